"""Serving: the model-serving containers clearml-serving runs, their endpoints, and the endpoints' metrics history.

Live state is in Redis, as the reference keeps it: one JSON record per container that expires with the
container's timeout (refreshed by each register or status report), and per endpoint url a sorted set of its
containers' record keys scored by expiry time, so an endpoint's containers are found without scanning. Containers
without a url yet ("loading") are kept in a set of their own. Each status report is also stored in MongoDB
(``serving_stats``) for :meth:`ServingBLL.metrics_history`, a date histogram per container and in total, cut into
buckets as the workers' statistics are (:mod:`worker_stats`).
"""
from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Iterable

import redis
from pymongo.database import Database
from pyhocon import ConfigTree

from trackside.api import errors
from trackside.api.bll.worker_stats import DateBuckets
from trackside.shared.ids import new_id
from trackside.shared.timeutil import utcnow

# The fields a container reports about the model it serves (register and status report alike).
MODEL_FIELDS = ("container_id", "endpoint_name", "endpoint_url", "model_name", "model_source", "model_version",
                "preprocess_artifact", "input_type", "input_size", "tags", "system_tags", "reference")
REPORT_FIELDS = ("uptime_sec", "requests_num", "requests_min", "latency_ms", "machine_stats")
_PRUNE_EVERY_SEC = 60
# An endpoint's set of containers outlives a silent endpoint by at least this long (then Redis drops it).
URL_SET_MIN_TTL_SEC = 3600

# metric_type -> (stored field, chart title, how instances add up, unit factor)
_MB_TO_GB = 1 / 1024
CHARTS = {
    "requests": ("requests_num", "Number of Requests", "sum", 1.0),
    "requests_min": ("requests_min", "Requests per Minute", "sum", 1.0),
    "latency_ms": ("latency_ms", "Average Latency (ms)", "avg", 1.0),
    "cpu_count": ("cpu_num", "CPU Count", "sum", 1.0),
    "gpu_count": ("gpu_num", "GPU Count", "sum", 1.0),
    "cpu_util": ("cpu_usage", "Average CPU Load (%)", "avg", 1.0),
    "gpu_util": ("gpu_usage", "Average GPU Utilization (%)", "avg", 1.0),
    "ram_total": ("memory_total", "RAM Total (GB)", "sum", _MB_TO_GB),
    "ram_used": ("memory_used", "RAM Used (GB)", "sum", _MB_TO_GB),
    "ram_free": ("memory_free", "RAM Free (GB)", "sum", _MB_TO_GB),
    "gpu_ram_total": ("gpu_memory_total", "GPU RAM Total (GB)", "sum", _MB_TO_GB),
    "gpu_ram_used": ("gpu_memory_used", "GPU RAM Used (GB)", "sum", _MB_TO_GB),
    "gpu_ram_free": ("gpu_memory_free", "GPU RAM Free (GB)", "sum", _MB_TO_GB),
    "network_rx": ("network_rx", "Network Throughput RX (MBps)", "sum", 1.0),
    "network_tx": ("network_tx", "Network Throughput TX (MBps)", "sum", 1.0),
}


def _mean(values) -> tuple[float | None, int | None]:
    """(average, how many) of a reading that is one number or a list of them (one per CPU or GPU)."""
    if values is None:
        return None, None
    if isinstance(values, (list, tuple)):
        values = [v for v in values if v is not None]
        return (sum(values) / len(values), len(values)) if values else (None, None)
    return values, 1


def _as_time(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, timezone.utc) if epoch is not None else None


def _average(values: list, digits: int | None = None):
    values = [v for v in values if v is not None]
    if not values:
        return None
    mean = sum(values) / len(values)
    return round(mean, digits) if digits else round(mean)


class ServingBLL:
    def __init__(self, redis_client: redis.Redis, db: Database, config: ConfigTree):
        settings = config.get("services.serving", ConfigTree())
        self.redis = redis_client
        self.stats = db["serving_stats"]
        self.default_timeout = int(settings.get("default_container_timeout_sec", 600))
        self.auto_register = bool(settings.get("container_auto_register", True))
        self.auto_unregister = bool(settings.get("container_auto_unregister", True))
        self.min_interval = max(1, int(settings.get("min_chart_interval_sec", 40)))
        self.retention = timedelta(days=float(settings.get("stats_retention_days", 30)))
        self._last_prune = 0.0

    # -- Redis keys -------------------------------------------------------------------------------------------
    @staticmethod
    def _container_key(company: str, container_id: str) -> str:
        return f"serving:container:{company}:{container_id}"

    @staticmethod
    def _url_key(company: str, url: str | None) -> str:
        return f"serving:url:{company}:{url}" if url else f"serving:loading:{company}"

    def _load(self, company: str, container_id: str) -> dict | None:
        data = self.redis.get(self._container_key(company, container_id))
        return json.loads(data) if data else None

    def _save(self, company: str, entry: dict) -> None:
        key = self._container_key(company, entry["container_id"])
        timeout = entry["register_timeout"]
        self.redis.set(key, json.dumps(entry), ex=timeout)
        url_key = self._url_key(company, entry.get("endpoint_url"))
        self.redis.zadd(url_key, {key: int(time.time()) + timeout})
        # A url nobody reports to any more must not stay in Redis for ever.
        self.redis.expire(url_key, max(URL_SET_MIN_TTL_SEC, timeout))

    # -- containers -------------------------------------------------------------------------------------------
    def register(self, company: str, data: dict, ip: str) -> None:
        now = time.time()
        entry = {**{f: data.get(f) for f in MODEL_FIELDS}, "ip": ip, "register_time": now,
                 "register_timeout": data.get("timeout") or self.default_timeout, "last_activity_time": now}
        self._save(company, entry)

    def unregister(self, company: str, container_id: str) -> None:
        entry = self._load(company, container_id)
        key = self._container_key(company, container_id)
        if entry:
            self.redis.zrem(self._url_key(company, entry.get("endpoint_url")), key)
        if not self.redis.delete(key) and not self.auto_unregister:
            raise errors.ContainerNotRegistered(f"container {container_id} is not registered",
                                                container=container_id)

    def status_report(self, company: str, data: dict, ip: str) -> None:
        container_id = data["container_id"]
        now = time.time()
        known = self._load(company, container_id)
        if known is None and not self.auto_register:
            raise errors.ContainerNotRegistered(f"container {container_id} is not registered",
                                                container=container_id)
        known = known or {"register_time": now, "register_timeout": self.default_timeout}
        entry = {**{f: data.get(f) for f in (*MODEL_FIELDS, *REPORT_FIELDS)}, "ip": ip or known.get("ip"),
                 "register_time": known["register_time"], "register_timeout": known["register_timeout"],
                 "last_activity_time": now}
        previous_url = known.get("endpoint_url")
        if previous_url != entry["endpoint_url"]:
            self.redis.zrem(self._url_key(company, previous_url), self._container_key(company, container_id))
        self._save(company, entry)
        self._record(company, entry)

    def _entries(self, keys: Iterable) -> list[dict]:
        keys = list(keys)
        found = []
        for start in range(0, len(keys), 1000):
            found.extend(json.loads(d) for d in self.redis.mget(keys[start:start + 1000]) if d)
        return sorted(found, key=lambda e: e["container_id"])

    def _all(self, company: str) -> list[dict]:
        return self._entries(self.redis.scan_iter(match=self._container_key(company, "*"), count=1000))

    def _of_url(self, company: str, url: str | None) -> list[dict]:
        """The live containers of ``url`` (None: the loading ones); expired members are dropped on the way."""
        url_key = self._url_key(company, url)
        self.redis.zremrangebyscore(url_key, 0, int(time.time()))
        keys = {k.decode() if isinstance(k, bytes) else k for k in self.redis.zrange(url_key, 0, -1)}
        if not keys:
            return []
        entries = [e for e in self._entries(sorted(keys)) if e.get("endpoint_url") == url]
        gone = keys - {self._container_key(company, e["container_id"]) for e in entries}
        if gone:
            self.redis.zrem(url_key, *gone)
        return entries

    # -- what the UI lists --------------------------------------------------------------------------------------
    def endpoints(self, company: str) -> list[dict]:
        """One summary per endpoint url, over its containers; loading containers (no url) are left out."""
        by_url: dict[str, list[dict]] = defaultdict(list)
        for entry in self._all(company):
            if entry.get("endpoint_url"):
                by_url[entry["endpoint_url"]].append(entry)
        return [self._summary(entries) for _, entries in sorted(by_url.items())]

    @staticmethod
    def _summary(entries: list[dict]) -> dict:
        first = entries[0]
        uptimes = [e["uptime_sec"] for e in entries if e.get("uptime_sec") is not None]
        requests = [e["requests_num"] for e in entries if e.get("requests_num") is not None]
        return {
            "endpoint": first.get("endpoint_name"), "model": first.get("model_name"), "url": first.get("endpoint_url"),
            "instances": len(entries),
            "uptime_sec": max(uptimes) if uptimes else None,
            "requests": sum(requests),
            "requests_min": _average([e.get("requests_min") for e in entries], 2),
            "latency_ms": _average([e.get("latency_ms") for e in entries]),
            "last_update": _as_time(max(e["last_activity_time"] for e in entries)),
        }

    def loading_instances(self, company: str) -> list[dict]:
        now = time.time()
        return [{
            "id": e["container_id"], "endpoint": e.get("endpoint_name"), "url": e.get("endpoint_url"),
            "model": e.get("model_name"), "model_source": e.get("model_source"),
            "model_version": e.get("model_version"), "preprocess_artifact": e.get("preprocess_artifact"),
            "input_type": e.get("input_type"), "input_size": e.get("input_size"), "uptime_sec": e.get("uptime_sec"),
            "age_sec": int(now - e["register_time"]), "last_update": _as_time(e["last_activity_time"]),
        } for e in self._of_url(company, None)]

    def endpoint_details(self, company: str, url: str) -> dict:
        entries = self._of_url(company, url)
        if not entries:
            raise errors.NoContainersForUrl(f"no live container serves {url}", url=url)
        first = entries[0]
        uptimes = [e["uptime_sec"] for e in entries if e.get("uptime_sec") is not None]
        return {
            "endpoint": first.get("endpoint_name"), "model": first.get("model_name"), "url": url,
            "preprocess_artifact": first.get("preprocess_artifact"), "input_type": first.get("input_type"),
            "input_size": first.get("input_size"), "model_source": first.get("model_source"),
            "model_version": first.get("model_version"),
            "uptime_sec": max(uptimes) if uptimes else None,
            "last_update": _as_time(max(e["last_activity_time"] for e in entries)),
            "instances": [{
                "id": e["container_id"], "uptime_sec": e.get("uptime_sec"), "requests": e.get("requests_num"),
                "requests_min": e.get("requests_min"), "latency_ms": e.get("latency_ms"),
                "last_update": _as_time(e["last_activity_time"]), "reference": e.get("reference") or [],
                **_processor_counts(e.get("machine_stats")),
            } for e in entries],
        }

    # -- metrics history ----------------------------------------------------------------------------------------
    def _record(self, company: str, entry: dict) -> None:
        doc = {"_id": new_id(), "company": company, "time": utcnow(),
               **{f: entry.get(f) for f in ("container_id", "endpoint_url", "requests_num", "requests_min",
                                           "uptime_sec", "latency_ms")}}
        stats = entry.get("machine_stats") or {}
        if stats:
            for device in ("cpu", "gpu"):
                doc[f"{device}_usage"], doc[f"{device}_num"] = _mean(stats.get(f"{device}_usage"))
            for memory in ("memory", "gpu_memory"):
                free, used = _mean(stats.get(f"{memory}_free"))[0], _mean(stats.get(f"{memory}_used"))[0]
                doc.update({f"{memory}_free": free, f"{memory}_used": used,
                            f"{memory}_total": round((free or 0) + (used or 0), 3)})
            doc.update({f: stats.get(f) for f in ("disk_free_home", "network_rx", "network_tx")})
        self.stats.insert_one(doc)
        if time.monotonic() - self._last_prune >= _PRUNE_EVERY_SEC:
            self._last_prune = time.monotonic()
            self.stats.delete_many({"time": {"$lt": utcnow() - self.retention}})

    def metrics_history(self, company: str, url: str, from_date: float, to_date: float, interval: int,
                        metric_type: str, instance_charts: bool) -> dict:
        """``metric_type`` of the endpoint's containers per ``interval`` (at least ``min_chart_interval_sec``):
        each container's average in a bucket (its highest request count for ``requests``), and their sum
        (average, for loads and latency) as the total. Buckets are epoch milliseconds; for ``requests`` only
        buckets with reports are given, for the others every bucket from ``from_date`` to ``to_date``."""
        buckets = DateBuckets.checked(from_date, to_date, interval, self.min_interval)
        interval = buckets.interval
        field, title, total_kind, factor = CHARTS[metric_type]
        answer: dict = {"computed_interval": interval, "total": {"title": title, "dates": [], "values": []},
                        "instances": {}}
        query = {"company": company, "endpoint_url": url,
                 "time": {"$gte": _as_time(from_date), "$lte": _as_time(to_date)}}
        # readings[bucket][container] -> values (None where a report lacks the field)
        readings: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        containers: set[str] = set()
        for doc in self.stats.find(query, {"container_id": 1, "time": 1, field: 1}):
            containers.add(doc["container_id"])
            index = buckets.index_of(doc["time"])
            if index is not None:
                readings[index][doc["container_id"]].append(doc.get(field))
        if not containers:
            return answer
        sample = max if metric_type == "requests" else (lambda values: sum(values) / len(values))
        indexes = sorted(readings) if metric_type == "requests" else range(len(buckets.dates))
        dates, totals, per_container = [], [], defaultdict(list)
        for index in indexes:
            samples = {}
            for container, values in readings.get(index, {}).items():
                present = [v for v in values if v is not None]
                samples[container] = sample(present) if present else 0
            dates.append(buckets.dates[index])
            if total_kind == "sum":
                totals.append(sum(samples.values()))
            else:
                totals.append(sum(samples.values()) / len(samples) if samples else 0)
            for container in containers:
                per_container[container].append(samples.get(container, 0))
        answer["total"].update(dates=dates, values=_scaled(totals, factor))
        if instance_charts:
            answer["instances"] = {container: {"title": container, "dates": dates,
                                               "values": _scaled(per_container[container], factor)}
                                   for container in sorted(containers)}
        return answer


def _scaled(values: list, factor: float) -> list:
    return [round(v * factor, 2) if v else 0 for v in values]


def _processor_counts(machine_stats: dict | None) -> dict:
    """How many CPUs and GPUs a container's machine statistics list."""
    counts = {"cpu_count": 0, "gpu_count": 0}
    for reading, name in (((machine_stats or {}).get("cpu_usage"), "cpu_count"),
                          ((machine_stats or {}).get("gpu_usage"), "gpu_count")):
        if reading is not None:
            counts[name] = len(reading) if isinstance(reading, (list, tuple)) else 1
    return counts
