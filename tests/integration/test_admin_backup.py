"""trackside-admin backup/restore against real processes: a running stack's task, events, model and uploaded
files come back through the API and the file server of a fresh stack; damaged archives and targets holding
data are refused without writing anything."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time

import pymongo
import pytest

from support.client import ApiClient
from support.files import FilesClient
from support.suite import start_api, start_fileserver, start_mongo, stop_together
from trackside.api.migrations import STEPS
from trackside.shared.admin.restore import verify
from trackside.shared.embedded.servers import mongo_env

BLOB = os.urandom(300_000)


def admin(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trackside.shared.admin.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)


class Stack:
    """A fresh Mongo-wire server with an API and a file server on it."""

    def __init__(self, root, redis_port):
        self.mongo = start_mongo(root / "mongo")
        started = [self.mongo]
        try:  # a server that fails to start must not leave the ones before it running
            self.api = start_api(self.mongo.port, root / "api", redis_port=redis_port)
            started.append(self.api.process)
            (root / "fs").mkdir()
            self.files = start_fileserver(self.api.config_dir, root / "fs")
        except BaseException:
            for process in reversed(started):
                process.stop()
            raise
        self.client = ApiClient(self.api.url, self.api.key, self.api.secret).login()
        self.fs = FilesClient.logged_in(self.files.url, self.client)
        # What trackside-admin reads: the API's configuration, the file server's folder.
        self.admin_env = {**self.api.env, "CLEARML_UPLOAD_FOLDER": str(self.files.root)}
        self.backend = pymongo.MongoClient("127.0.0.1", self.mongo.port, directConnection=True)["backend"]


@pytest.fixture(scope="module")
def stacks(tmp_path_factory, redis_server):
    made = []
    try:
        source = Stack(tmp_path_factory.mktemp("source"), redis_server.port)
        made.append(source)
        target = Stack(tmp_path_factory.mktemp("target"), redis_server.port)
        made.append(target)
        yield source, target
    finally:
        # Both stacks' servers at once (each API and file server takes seconds to stop), then their stores.
        stop_together([p for stack in made for p in (stack.files.process, stack.api.process)])
        stop_together([stack.mongo for stack in made])


@pytest.fixture(scope="module")
def archive(stacks, tmp_path_factory):
    source, _ = stacks
    api = source.client
    task = api.ok("tasks.create", name="backed-up", type="training",
                  hyperparams={"Args": {"opt.lr": {"section": "Args", "name": "opt.lr", "value": "0.1"}}})["id"]
    now = int(time.time() * 1000)
    events = [{"type": "training_stats_scalar", "task": task, "iter": i, "metric": "loss", "variant": "train",
               "value": 1.0 / (i + 1), "timestamp": now + i} for i in range(5)]
    events += [{"type": "log", "task": task, "timestamp": now + i, "level": "info", "msg": f"line {i}"}
               for i in range(3)]
    reply = api.send("events.add_batch", body="\n".join(json.dumps(e) for e in events),
                     headers={"Content-Type": "application/json-lines"})
    assert reply.status == 200 and reply.data["added"] == 8, reply.body
    assert source.fs.upload(f"proj/{task}/artifacts/blob.bin", BLOB).status_code == 200
    assert source.fs.upload(f"proj/{task}/models/model.txt", b"weights").status_code == 200
    model = api.ok("models.create", name="m", uri=f"{source.files.url}/proj/{task}/models/model.txt",
                   task=task)["id"]
    path = tmp_path_factory.mktemp("backup") / "site.tar.gz"
    done = admin(source.admin_env, "backup", "--out", str(path))
    assert done.returncode == 0, done.stderr
    return path, task, model


def test_backup_archive_lists_every_member_with_counts(archive):
    path, task, _ = archive
    with tarfile.open(path) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
    assert names[-1] == "manifest.json" and set(names[:-1]) == set(manifest["members"])
    assert manifest["format"] == "trackside-backup" and manifest["migrations"] == [step.id for step in STEPS]
    members = manifest["members"]
    assert members["mongo/backend/tasks.bson"]["count"] == 1 and members["mongo/backend/events.bson"]["count"] == 8
    assert members["mongo/backend/models.bson"]["count"] == 1 and members["mongo/auth/users.bson"]["count"] >= 1
    assert members[f"files/proj/{task}/artifacts/blob.bin"]["bytes"] == len(BLOB)
    assert not any(".trackside-uploads" in name for name in members)


def test_restore_into_a_fresh_stack_gives_everything_back(stacks, archive):
    _, target = stacks
    path, task, model = archive
    done = admin(target.admin_env, "restore", str(path))
    assert done.returncode == 0, done.stderr
    api = target.client
    restored = api.ok("tasks.get_by_id", task=task)["task"]
    assert restored["name"] == "backed-up" and restored["hyperparams"]["Args"]["opt.lr"]["value"] == "0.1"
    log = api.ok("events.get_task_log", task=task, batch_size=10)["events"]
    assert sorted(e["msg"] for e in log) == ["line 0", "line 1", "line 2"]
    scalars = api.ok("events.scalar_metrics_iter_histogram", task=task)
    assert scalars["loss"]["train"]["x"] == [0, 1, 2, 3, 4]
    assert api.ok("models.get_by_id", model=model)["model"]["task"] == task
    assert target.fs.get(f"proj/{task}/artifacts/blob.bin").content == BLOB
    assert target.fs.get(f"proj/{task}/models/model.txt").content == b"weights"

    # The target now holds experiment data: a second restore needs --force, and writes nothing without it.
    api.ok("tasks.edit", task=task, name="changed since")
    refused = admin(target.admin_env, "restore", str(path))
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert api.ok("tasks.get_by_id", task=task)["task"]["name"] == "changed since"
    forced = admin(target.admin_env, "restore", "--force", str(path))
    assert forced.returncode == 0, forced.stderr
    assert api.ok("tasks.get_by_id", task=task)["task"]["name"] == "backed-up"


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "foreign manifest"])
def test_a_damaged_archive_is_refused_and_nothing_written(stacks, archive, tmp_path, damage):
    _, target = stacks
    path, _, _ = archive
    plain = tmp_path / "site.tar"  # uncompressed, so one flipped byte lands inside one member
    with tarfile.open(path) as src, tarfile.open(plain, "w") as out:
        for info in src:
            data = src.extractfile(info).read()
            if damage == "foreign manifest" and info.name == "manifest.json":
                data = json.dumps({"format": "something-else"}).encode()
                info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    data = bytearray(plain.read_bytes())
    if damage == "flipped byte":
        offset = data.index(b"line 1")  # inside the events member
        data[offset] ^= 0x01
    elif damage == "truncated":
        data = data[: len(data) // 2]
    plain.write_bytes(bytes(data))

    # An empty target (databases of their own on the target's server): nothing may appear there.
    env = {**target.admin_env, **{k: v.replace("/backend?", "/backend_damaged?").replace("/auth?", "/auth_damaged?")
                                  for k, v in mongo_env(target.mongo.port).items()},
           "CLEARML_UPLOAD_FOLDER": str(tmp_path / "files")}
    done = admin(env, "restore", "--force", str(plain))
    assert done.returncode == 1 and "refused" in done.stderr, done.stderr
    expected = {"flipped byte": "checksum mismatch", "truncated": "truncated",
                "foreign manifest": "not a Trackside backup"}[damage]
    assert expected in done.stderr
    names = target.backend.client.list_database_names()
    assert "backend_damaged" not in names and "auth_damaged" not in names
    assert not (tmp_path / "files").exists()


def test_backup_to_stdout_is_the_same_archive(stacks, archive, tmp_path):
    source, _ = stacks
    path, _, _ = archive
    streamed = subprocess.run([sys.executable, "-m", "trackside.shared.admin.cli", "backup", "--out", "-"],
                              env=source.admin_env, capture_output=True, timeout=300)
    assert streamed.returncode == 0, streamed.stderr
    (tmp_path / "streamed.tar.gz").write_bytes(streamed.stdout)
    streamed_members, written_members = verify(tmp_path / "streamed.tar.gz").members, verify(path).members
    assert {name: (m.sha256, m.count) for name, m in streamed_members.items() if name.startswith("files/")} == \
        {name: (m.sha256, m.count) for name, m in written_members.items() if name.startswith("files/")}
    assert streamed_members["mongo/backend/events.bson"].count == 8
