import sys

from trackside.webhooks.main import main

sys.exit(main())
