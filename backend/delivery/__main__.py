"""``python -m backend.delivery``: deliver the departments' changes to their webhooks.

Runs until stopped (``./scripts/serve`` starts it beside the server), a pass every
``--interval`` seconds; ``--once`` runs one pass and prints what it did. On AWS the
Lambda function fed by the events table's stream does this instead (deploy/template.yaml).
Exit status: 0; 2 on bad settings.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from dataclasses import asdict

from backend.config import Settings, configure_logging
from backend.errors import CalendarError, StorageUnavailable
from backend.services.notifications import Sending, deliver
from backend.storage.connection import connect

logger = logging.getLogger("backend.delivery")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backend.delivery", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument(
        "--interval", type=float, default=2.0, help="seconds between passes (default 2)"
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_format, settings.log_level, stream=sys.stderr)
        storage, _ = connect(settings)
    except (CalendarError, ValueError) as exc:
        print(f"cannot deliver webhooks: {exc}", file=sys.stderr)
        return 2
    # Private and loopback receivers only in development, for local tools.
    how = Sending(allow_private=not settings.is_production)
    if args.once:
        print(json.dumps(asdict(deliver(storage, how))))
        return 0
    stop = threading.Event()
    for name in ("SIGTERM", "SIGINT"):
        signal.signal(getattr(signal, name), lambda *_: stop.set())
    logger.info("delivering webhooks every %.1f s", args.interval)
    while not stop.is_set():
        try:
            done = deliver(storage, how)
            if done.delivered or done.failed:
                logger.info("webhook pass", extra=asdict(done))
        except StorageUnavailable as exc:
            logger.warning("webhook pass skipped: %s", exc)
        except Exception:  # the worker outlives any one pass's trouble
            logger.exception("webhook pass failed")
        stop.wait(args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
