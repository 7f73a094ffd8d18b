"""The tools' side of the embedded engine: find the engine of a data folder, or start it.

Imports nothing from moto, so any local tool can use it; the engine process itself is
``backend.local_engine.server``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

logger = logging.getLogger(__name__)

LOCAL_CREDENTIALS = ("local", "local")  # moto accepts any key; these never leave the machine
JOURNAL = "journal.jsonl"
STATE = "engine.json"
RUNNING_LOCK = "engine.running"
START_LOCK = "engine.start"
HEALTH_PATH = "/_engine/health"
DEFAULT_IDLE_SECONDS = 900
KEEPALIVE_SECONDS = 60


class EngineError(RuntimeError):
    """The embedded engine could not be started or reached."""


def ensure_running(data_dir: Path, timeout: float = 300.0) -> str:
    """Return the URL of the engine serving ``data_dir``, starting one if none runs."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / START_LOCK).open("w") as start_lock:
        # Serialises tools starting at the same moment, so only one of them spawns.
        fcntl.flock(start_lock, fcntl.LOCK_EX)
        if not _engine_alive(data_dir):
            _spawn(data_dir)
        return _wait_for(data_dir, timeout)


def _engine_alive(data_dir: Path) -> bool:
    """Whether an engine holds the folder's running lock (alive, or still replaying)."""
    path = data_dir / RUNNING_LOCK
    if not path.exists():
        return False
    with path.open("a") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False


def _spawn(data_dir: Path) -> None:
    previous_port = 0
    with contextlib.suppress(OSError, ValueError, KeyError):
        previous_port = int(json.loads((data_dir / STATE).read_text())["port"])
    with contextlib.suppress(FileNotFoundError):
        (data_dir / STATE).unlink()
    log = (data_dir / "engine.log").open("a")
    command = [
        sys.executable,
        "-m",
        "backend.local_engine",
        "--data-dir",
        str(data_dir),
        "--port",
        str(previous_port),
    ]
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    logger.info("starting the local DynamoDB engine for %s", data_dir)
    # The child forks the engine off and exits at once (--detach), so the engine belongs
    # to no tool: it outlives the one that started it, its Ctrl-C, and leaves no zombie.
    launcher = subprocess.Popen(  # noqa: S603 - our own module, run with this interpreter
        [*command, "--detach"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        env=env,
        start_new_session=True,
    )
    log.close()
    if launcher.wait(timeout=30) != 0:
        raise EngineError(
            f"the local DynamoDB engine failed to launch; see {data_dir / 'engine.log'}"
        )


def _wait_for(data_dir: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        url = _ping(data_dir)
        if url is not None:
            return url
        time.sleep(0.05)
    raise EngineError(
        f"the local DynamoDB engine did not start within {timeout:.0f}s; "
        f"see {data_dir / 'engine.log'}"
    )


# Loopback only: never route the engine's health checks through an HTTP proxy.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(url: str) -> bool:
    try:
        with _opener.open(url + HEALTH_PATH, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _ping(data_dir: Path) -> str | None:
    try:
        url = str(json.loads((data_dir / STATE).read_text(encoding="utf-8"))["url"])
    except (OSError, ValueError, KeyError):
        return None
    return url if _healthy(url) else None


def keep_alive(url: str, interval: float = KEEPALIVE_SECONDS) -> threading.Thread:
    """Ping the engine while this process lives, so that it does not stop as idle.

    An engine stopped by hand is not brought back behind the user's back: the API answers
    503 and /readyz says why until the server is restarted.
    """

    def loop() -> None:
        healthy = True
        while True:
            time.sleep(interval)
            now_healthy = _healthy(url)
            if healthy and not now_healthy:
                logger.warning("the local DynamoDB engine at %s stopped; restart the server", url)
            healthy = now_healthy

    thread = threading.Thread(target=loop, name="local-engine-keepalive", daemon=True)
    thread.start()
    return thread
