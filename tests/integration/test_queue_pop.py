"""The queue head is taken exactly once when many processes take at the same time, on the real Mongo-wire
server (the embedded server's find_one_and_update-BEFORE is not exactly-once; the claim must not rely on it)."""
import multiprocessing as mp

import pymongo

from trackside.api.bll.queues import QueuesBLL
from trackside.shared.ids import new_id

COMPANY = "c" * 32
ENTRIES = 300
TAKERS = 4
# The takers fork from a fork server that imported these once (spawned, each imported pytest, pymongo and the
# queue code again: seconds on two cores); each still opens its own client.
PRELOAD = ["pytest", "pymongo", "trackside.api.bll.queues"]


def _take_all(port: int, queue_id: str, out: "mp.Queue") -> None:
    db = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false")["backend"]
    queues, taken = QueuesBLL(db), []
    while (entry := queues.pop_entry(COMPANY, queue_id)) is not None:
        taken.append(entry["task"])
    out.put(taken)


def test_concurrent_takers_get_each_entry_exactly_once(mongo_server):
    db = pymongo.MongoClient(f"mongodb://127.0.0.1:{mongo_server.port}/?directConnection=true")["backend"]
    queue_id, tasks = new_id(), [new_id() for _ in range(ENTRIES)]
    db["queues"].insert_one({"_id": queue_id, "company": COMPANY, "name": f"pop-{queue_id}",
                             "entries": [{"task": t} for t in tasks]})
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    out = context.Queue()
    takers = [context.Process(target=_take_all, args=(mongo_server.port, queue_id, out)) for _ in range(TAKERS)]
    for p in takers:
        p.start()
    results = [out.get(timeout=120) for _ in takers]
    for p in takers:
        p.join(30)
    taken = [task for result in results for task in result]
    assert sorted(taken) == sorted(tasks)  # every entry once: none twice, none lost
    assert all(result == sorted(result, key=tasks.index) for result in results)  # each taker sees queue order
