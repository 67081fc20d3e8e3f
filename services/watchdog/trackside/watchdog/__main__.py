"""``python -m trackside.watchdog``."""
import sys

from trackside.watchdog.main import main

sys.exit(main())
