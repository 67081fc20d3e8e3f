"""``python -m trackside.shared.embedded.secantusd``: the secantusdb server (same arguments as ``secantusd-py``)
with Trackside's query plans in front of its storage (:mod:`trackside.shared.embedded.secantus_plans`) and
WiredTiger's log written at every commit.

secantusdb opens WiredTiger with ``transaction_sync=(enabled=false)``: commits wait in WiredTiger's own log
buffer, so a SIGKILL (or the OOM killer) of the store lost its last acknowledged writes (37 of 4,952 inserts in
three kills, tests/stress/test_faults_mongo_restart.py). ``enabled=true,method=none`` hands each commit's log
record to the operating system before the write is acknowledged, without an fsync: a killed store loses
nothing; a power cut can still lose the last writes, as MongoDB with ``j: false``.

It also logs an update whose path has a part made of non-ASCII digits (``prefs.³``: ``str.isdigit`` is true,
``int`` refuses it) as the whole new document, where secantusdb failed the update with an internal error
while describing it for its oplog (found by the API fuzzing run; MongoDB accepts such keys).
"""
import sys

from secantus import storage
from secantus.cli import main

from trackside.shared.embedded import secantus_plans

BUFFERED_COMMITS = "transaction_sync=(enabled=false,method=fsync)"
COMMITS_HANDED_TO_THE_OS = "transaction_sync=(enabled=true,method=none)"


def _log_every_commit() -> None:
    open_store = storage.wt.wiredtiger_open

    def wiredtiger_open(home, config):
        return open_store(home, config.replace(BUFFERED_COMMITS, COMMITS_HANDED_TO_THE_OS))

    storage.wt.wiredtiger_open = wiredtiger_open


def _log_any_update() -> None:
    describe = storage._update_oplog_o

    def update_oplog_o(pre, post, update, is_replacement):
        try:
            return describe(pre, post, update, is_replacement)
        except ValueError:  # the oplog's diff of a path part such as "³" (only change streams read it)
            return describe(pre, post, update, True)

    storage._update_oplog_o = update_oplog_o


if __name__ == "__main__":
    _log_every_commit()
    _log_any_update()
    secantus_plans.install()
    sys.exit(main())
