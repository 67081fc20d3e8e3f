"""The daemon's worker id: what the server's registry, the UI and dispatch leases know this agent by.

``agent.worker_id`` (``CLEARML_WORKER_ID``) is used exactly as given. Otherwise the id is

    <agent.worker_name or CLEARML_WORKER_NAME or the host name>:<gpu tag>:<8 random hex digits>

e.g. ``box:gpu0,1:3f9a2c7e`` or ``box:cpu:0b41d9aa``. Why a random part: a worker id names one running
process. clearml-agent's ``<host>:<slot>`` is unique only among agents that can see each other's slot
files, so containers sharing a host name (``--hostname``, ``--network host``, replicated pods) register the
same id and overwrite each other's registry record, current task and statistics. 32 random bits make that
practically impossible (about 1 in 10,000 for 1,000 agents with the same name and GPUs) with no shared
state to coordinate. The cost: a restarted agent is a new worker (the old id is unregistered at exit, or
expires after the worker timeout), so whoever needs a stable id (runtime properties, dashboards) sets
``agent.worker_id``. The GPU tag keeps ids readable: which devices a worker serves is visible in lists.
"""
from __future__ import annotations

import secrets
import socket

from trackside.agent.config import AgentConfig
from trackside.agent.gpus import GpuSelection


def configured_worker_id(config: AgentConfig) -> str:
    return (config.get("agent.worker_id") or "").strip()


def worker_name(config: AgentConfig) -> str:
    return (config.get("agent.worker_name") or "").strip() or socket.gethostname()


def make_worker_id(config: AgentConfig, gpus: GpuSelection, tag: str | None = None) -> str:
    """``tag`` replaces the GPU tag (``dgpu0,1,2,3`` for a daemon sharing its GPUs: ``gpu_allocation.py``)."""
    return configured_worker_id(config) or f"{worker_name(config)}:{tag or gpus.tag}:{secrets.token_hex(4)}"
