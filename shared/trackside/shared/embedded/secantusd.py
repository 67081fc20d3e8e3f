"""``python -m trackside.shared.embedded.secantusd``: the secantusdb server (same arguments as ``secantusd-py``)
with Trackside's query plans in front of its storage (:mod:`trackside.shared.embedded.secantus_plans`)."""
import sys

from secantus.cli import main

from trackside.shared.embedded import secantus_plans

if __name__ == "__main__":
    secantus_plans.install()
    sys.exit(main())
