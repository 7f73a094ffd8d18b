"""The WSGI entry point of the setup guide: ``flask run`` and ``gunicorn app:app`` in backend/.

This module builds the application at import time on purpose: it is what those
commands load. Everything else in the package builds nothing on import.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Loaded as a top-level module from inside backend/: make the package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend import create_app
from backend.config import Settings, configure_logging
from backend.errors import ConfigError, StartupError

try:
    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    app = create_app(settings)
except (ConfigError, StartupError) as exc:
    if not logging.getLogger().handlers:
        configure_logging()
    logging.getLogger("backend").critical("cannot start: %s", exc)
    # 3 is gunicorn's "worker failed to boot": its master stops instead of restarting the
    # worker forever. Other runners (flask run, python -c) just see a failed start.
    raise SystemExit(3) from None
