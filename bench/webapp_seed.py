"""Seed the web app benchmark's data fast, in the API's own document shapes (bench/bench_webapp.py).

What the API would take minutes or hours to receive one call at a time is written straight into the stores,
shaped by the API's own code and templates:

- tasks: one template task per project is made through the API (``tasks.create`` with hyperparameters, then
  scalars through ``events.add_batch`` so the API writes its ``last_metrics``); its stored document is read
  back and cloned with varied names, statuses, types, users, tags, metric values, hyperparameter values and
  times (``insert_many`` into ``backend.tasks``);
- events: built as a client sends them and handed, in batches of 10,000, to the API's own ingestion code
  (``EventsBLL.add``, what ``events.add_batch`` calls after parsing the request) in this process: the same
  checks, store writes, log line numbering, scalar bucket pyramid and ``last_metrics`` updates, without the
  HTTP and JSON of a million-line request stream.
"""
from __future__ import annotations

import copy
import json
import math
import random
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import requests

from trackside.api.bll.events import EventsBLL
from trackside.shared.ids import new_id
from trackside.shared.project_counters import count_inserted

JSON_LINES = {"Content-Type": "application/json-lines"}
STATUSES = (  # (status, weight): most tasks in a big project are finished
    ("completed", 55), ("failed", 8), ("stopped", 10), ("published", 5), ("in_progress", 7), ("queued", 5),
    ("created", 10),
)
TYPES = (("training", 80), ("testing", 10), ("inference", 5), ("data_processing", 5))
TAGS = ("baseline", "sweep", "resnet", "bert", "gpu", "ablation", "best", "debug", "lr-search", "augment",
        "fp16", "v2", "prod", "nightly", "seed-1", "seed-2", "seed-3", "candidate", "rerun", "archive-me")
MODELS = ("resnet50", "bert-base", "vit-small", "lstm", "xgboost", "unet", "gpt2-tiny", "efficientnet")
USERS = ("alice", "bob", "carol", "dave", "erin")
LOG_NEEDLE = "gradient overflow detected"  # one line in the middle of the big console; bench searches it
WRITE_BATCH = 10_000  # events per store write
T0 = int(datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp() * 1000)


@dataclass
class Api:
    """A logged-in caller of the API (the bench's own: long timeouts, a JSON-lines sender)."""
    url: str
    token: str
    session: requests.Session

    @classmethod
    def login(cls, url: str, key: str, secret: str) -> "Api":
        session = requests.Session()
        reply = session.post(f"{url}/auth.login", auth=(key, secret), timeout=60)
        reply.raise_for_status()
        return cls(url, reply.json()["data"]["token"], session)

    def call(self, endpoint: str, **data):
        reply = self.session.post(f"{self.url}/v2.31/{endpoint}", json=data, timeout=600,
                                  headers={"Authorization": f"Bearer {self.token}"})
        body = reply.json()
        if reply.status_code != 200:
            raise RuntimeError(f"{endpoint}: HTTP {reply.status_code} {body['meta'].get('result_msg')}")
        return body["data"]

    def add_batch(self, events: list[dict]) -> None:
        reply = self.session.post(f"{self.url}/v2.23/events.add_batch", timeout=600,
                                  data="\n".join(json.dumps(e) for e in events),
                                  headers={**JSON_LINES, "Authorization": f"Bearer {self.token}"})
        data = reply.json()["data"]
        if reply.status_code != 200 or data.get("errors"):
            raise RuntimeError(f"events.add_batch: {reply.json()['meta']} {data}")


def weighted(rng: random.Random, choices) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def progress(what: str, done: int, total: int, started: float) -> None:
    rate = done / max(time.perf_counter() - started, 1e-9)
    print(f"  seeding {what}: {done:,}/{total:,} ({rate:,.0f}/s)", file=sys.stderr)


class Seeder:
    def __init__(self, api: Api, backend_db, seed: int = 15):
        self.api, self.db = api, backend_db
        self.events = EventsBLL(backend_db, {})  # the API's ingestion, default configuration (mongo store)
        self.rng = random.Random(seed)
        self.company = api.call("users.get_current_user")["user"]["company"]["id"]
        self.users = self._users()

    def _users(self) -> list[str]:
        """A few users, so the table's user column and filter have something to show."""
        ids = []
        for name in USERS:
            user = f"bench-{name}-{new_id()[:8]}"
            self.api.call("users.create", id=user, company=self.company, name=name.capitalize())
            ids.append(user)
        return ids

    # -- tasks -----------------------------------------------------------------------------------------------
    def project(self, name: str) -> str:
        return self.api.call("projects.create", name=name, description="web app benchmark")["id"]

    def template_task(self, project: str, name: str, scalars: bool = True) -> dict:
        """A task made by the API (hyperparameters; scalars reported through events.add_batch), as stored."""
        hyperparams = {"Args": {p: {"section": "Args", "name": p, "value": v, "type": t} for p, v, t in (
            ("lr", "0.001", "float"), ("batch_size", "64", "int"), ("epochs", "30", "int"),
            ("optimizer", "adam", "str"), ("model", "resnet50", "str"))}}
        task = self.api.call("tasks.create", name=name, type="training", project=project,
                             hyperparams=hyperparams, comment="benchmark task")["id"]
        if scalars:
            self.api.add_batch([
                {"type": "training_stats_scalar", "task": task, "metric": metric, "variant": variant, "iter": i,
                 "value": 1.0 / (i + 1), "timestamp": T0 + i * 1000}
                for i in range(3) for metric, variant in (("loss", "train"), ("loss", "val"), ("accuracy", "top1"))])
        return self.db.tasks.find_one({"_id": task})

    def tasks(self, project: str, count: int, prefix: str) -> list[str]:
        """``count`` tasks in ``project`` (the template plus clones); their names."""
        template = self.template_task(project, f"{prefix}-000000")
        names, docs, started = [template["name"]], [], time.perf_counter()
        for i in range(1, count):
            doc = self._clone(template, i, prefix)
            names.append(doc["name"])
            docs.append(doc)
            if len(docs) == 5_000:
                self.db.tasks.insert_many(docs, ordered=False)
                count_inserted(self.db, docs)  # written past the API: the project statistics count them
                docs = []
                progress(f"tasks of {prefix}", i + 1, count, started)
        if docs:
            self.db.tasks.insert_many(docs, ordered=False)
            count_inserted(self.db, docs)
        return names

    def _clone(self, template: dict, i: int, prefix: str) -> dict:
        rng = self.rng
        doc = copy.deepcopy(template)
        status = weighted(rng, STATUSES)
        created = template["created"] - timedelta(minutes=rng.randint(0, 60 * 24 * 365))
        started = created + timedelta(seconds=rng.randint(5, 3600))
        updated = started + timedelta(seconds=rng.randint(60, 3 * 86400))
        model = MODELS[i % len(MODELS)]
        doc.update({
            "_id": new_id(),
            "name": f"{prefix}-{model}-{i:06d}",
            "comment": f"{model} run {i}",
            "type": weighted(rng, TYPES),
            "status": status,
            "user": rng.choice(self.users),
            "tags": rng.sample(TAGS, rng.randint(0, 3)),
            "created": created, "status_changed": updated, "last_change": updated, "last_update": updated,
            "last_iteration": rng.randint(0, 100_000),
        })
        if status != "created":
            doc["started"] = started
        if status in ("completed", "failed", "stopped", "published"):
            doc["completed"] = updated
        for variants in doc.get("last_metrics", {}).values():
            for entry in variants.values():
                value = rng.random()
                entry.update(value=value, min_value=value * rng.random(), max_value=value + rng.random(),
                             first_value=value + rng.random())
        args = doc["hyperparams"]["Args"]
        args["lr"]["value"] = str(rng.choice((0.1, 0.01, 0.003, 0.001, 0.0003)))
        args["batch_size"]["value"] = str(rng.choice((16, 32, 64, 128, 256)))
        args["epochs"]["value"] = str(rng.randint(1, 100))
        args["model"]["value"] = model
        return doc

    # -- events ----------------------------------------------------------------------------------------------
    def _write(self, raw_events, total: int, what: str) -> None:
        """Hand ``raw_events`` (an iterable) to the API's ingestion in batches, as events.add_batch does."""
        batch, done, started = [], 0, time.perf_counter()
        for raw in raw_events:
            batch.append(raw)
            if len(batch) == WRITE_BATCH:
                self._add(batch)
                done += len(batch)
                batch = []
                if done % 100_000 == 0 or done == total:
                    progress(what, done, total, started)
        if batch:
            self._add(batch)

    def _add(self, batch: list[dict]) -> None:
        result = self.events.add(self.company, batch)
        if result["errors"]:
            raise RuntimeError(f"{result['errors']} events not stored: {result['errors_info']}")

    def scalars(self, task: str, points: int, series: int, metrics: int = 2) -> None:
        """``points`` scalar events across ``series`` series (``metrics`` metrics x the rest as variants),
        iteration by iteration."""
        names = [(f"metric_{s % metrics}", f"series_{s}") for s in range(series)]
        per_series = points // series

        def event(s: int, i: int) -> dict:
            metric, variant = names[s]
            # A noisy decaying curve with rare spikes: what a min/max-keeping downsampler must not hide.
            value = (1 + s) * math.exp(-i / max(per_series / 3, 1)) + 0.05 * math.sin(i * 0.7 + s)
            if (i * 7919 + s) % 50_021 == 0:
                value += 5
            return {"type": "training_stats_scalar", "task": task, "metric": metric, "variant": variant,
                    "iter": i, "value": value, "timestamp": T0 + i * 100}

        self._write((event(s, i) for i in range(per_series) for s in range(series)), per_series * series,
                    f"scalars of {task[:8]}")

    def log(self, task: str, lines: int) -> int:
        """A console of ``lines`` lines with one needle line in the middle; the needle's line number."""
        needle = lines // 2

        def line(n: int) -> dict:
            msg = (f"{LOG_NEEDLE} at step {n}" if n == needle else
                   f"epoch {n // 1000:4d} step {n:7d} loss={1 / (n + 1):.6f} lr=0.001 throughput=1234.5 img/s")
            return {"type": "log", "task": task, "level": "info", "worker": "bench-worker", "msg": msg,
                    "timestamp": T0 + n}

        self._write((line(n) for n in range(lines)), lines, f"console of {task[:8]}")
        return needle

    def compare_tasks(self, project: str, count: int, metrics: int, points: int, prefix: str) -> list[str]:
        """``count`` tasks, each with ``metrics`` scalar metrics of ``points`` iterations; their ids."""
        template = self.template_task(project, f"{prefix}-template", scalars=False)
        ids = []
        for i in range(count):
            doc = self._clone(template, i, prefix)
            doc.update(status="completed", last_metrics={}, last_iteration=0)  # the events below set them
            self.db.tasks.insert_one(doc)
            ids.append(doc["_id"])

        def events():
            for n, task in enumerate(ids):
                for i in range(points):
                    for m in range(metrics):
                        yield {"type": "training_stats_scalar", "task": task, "metric": f"metric_{m}",
                               "variant": "value", "iter": i, "timestamp": T0 + i * 1000,
                               "value": (m + 1) * math.exp(-i / points) * (1 + 0.01 * n)}

        self._write(events(), count * metrics * points, f"compare tasks of {prefix}")
        return ids
