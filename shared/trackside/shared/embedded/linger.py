"""``python -m trackside.shared.embedded.linger SECONDS COMMAND...``: runs COMMAND (a backing store) so that
it outlives a launcher that died outright by SECONDS.

`trackside-run` starts every server with a death signal (``process.death_signal_preexec``): killed with
SIGKILL or by the OOM killer, it takes them all with it at once. The services then wind down against stores
that are already gone and wait out their connection retries (seconds each). Started through this, a store
gets that signal late: the services end first, as in an orderly stop. A SIGTERM from the launcher itself (a
normal stop) is passed on at once; this process exits with the store's exit code, and the store ends with
it if it is killed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from trackside.shared.embedded.process import death_signal_preexec


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print("usage: python -m trackside.shared.embedded.linger SECONDS COMMAND...", file=sys.stderr)
        return 2
    grace, command = float(args[0]), args[1:]
    launcher = os.getppid()
    store = subprocess.Popen(command, preexec_fn=death_signal_preexec())

    def on_term(signum, frame):
        if os.getppid() != launcher:  # the launcher is gone (this is its death signal): the services end now
            time.sleep(grace)
        store.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_term)
    return store.wait()


if __name__ == "__main__":
    sys.exit(main())
