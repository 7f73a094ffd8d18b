"""``python -m backend.local_engine``: run the engine process (the launcher spawns this)."""

import sys

from backend.local_engine.server import main

sys.exit(main())
