"""``python -m localdb``: run the engine process (the launcher spawns this)."""

import sys

from localdb.server import main

sys.exit(main())
