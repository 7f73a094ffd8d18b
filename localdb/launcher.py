"""The tools' side of the embedded engine: find the engine of a data folder, or start it.

Imports nothing from moto, so any local tool can use it; the engine process itself is
``localdb.server``. A tool gets the folder's credentials (``credentials``), the engine's
URL (``ensure_running``, which starts the engine if none runs and checks that what
answers there is this folder's engine), and ``attach`` makes its boto3 client start the
engine again if it dies, and refuse answers that did not come from it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
import http.client
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from botocore.exceptions import ConnectionError as BotocoreConnectionError

from localdb.signing import ACCESS_KEY_ID, proof, response_proof

logger = logging.getLogger(__name__)

KEY_FILE = "engine.key"  # the folder's secret: 0600 in a 0700 folder
STATE = "engine.json"
LOG = "engine.log"
RUNNING_LOCK = "engine.running"
START_LOCK = "engine.start"
HEALTH_PATH = "/_engine/health"
# What an engine's answers and proofs follow; an engine of an earlier one is stopped.
PROTOCOL = 2
NONCE_HEADER = "x-local-engine-nonce"
PROOF_HEADER = "x-local-engine-proof"
DEFAULT_IDLE_SECONDS = 900
KEEPALIVE_SECONDS = 60
FOLDER_MODE = 0o700
FILE_MODE = 0o600
_HEALS_PER_CALL = 2
_KEY_WAIT = 2.0  # how long a key file being written by another tool is waited for


class EngineError(RuntimeError):
    """The embedded engine could not be started or reached."""


class EngineUnreachable(BotocoreConnectionError):
    """What a client call raises when this folder's engine cannot be brought back."""

    fmt = "The embedded local DynamoDB cannot be reached: {error}"


# -- the data folder --------------------------------------------------------------------


def prepare_folder(data_dir: Path) -> None:
    """Create the data folder for this user only (0700), or tighten one made earlier."""
    data_dir.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    info = data_dir.stat()
    if info.st_uid != os.geteuid():
        raise EngineError(f"{data_dir} belongs to another user; use a folder of your own")
    if info.st_mode & 0o777 != FOLDER_MODE:
        data_dir.chmod(FOLDER_MODE)
    for path in data_dir.iterdir():
        if path.is_file() and path.stat().st_mode & 0o077:
            path.chmod(FILE_MODE)


def read_secret(data_dir: Path) -> str:
    """The folder's secret, created on first use; readable by its owner only.

    The key file appears whole or not at all: it is written to a private temporary file
    and then linked to its name, which fails if another tool linked its own first (that
    one wins, and every tool reads it). A key file still being written (by an earlier
    version, which created the file and then wrote it) is read again for a moment.
    """
    path = data_dir / KEY_FILE
    secret = _read_key(path)  # the usual case: it exists already
    if secret is not None:
        return secret
    prepare_folder(data_dir)
    if not path.exists():
        key = secrets.token_hex(32) + "\n"
        tmp = data_dir / f"{KEY_FILE}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(key)
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):  # another tool's key won
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    deadline = time.monotonic() + _KEY_WAIT
    while True:
        secret = _read_key(path, complete=time.monotonic() < deadline)
        if secret is not None:
            return secret
        if time.monotonic() >= deadline:
            raise EngineError(f"{path} holds no key; remove it to have a new one made")
        time.sleep(0.01)


def _read_key(path: Path, *, complete: bool = True) -> str | None:
    """The key in ``path``; None if absent, or (``complete``) not yet ended by its newline."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    if complete and not text.endswith("\n"):
        return None
    return text.strip() or None


def credentials(data_dir: Path) -> tuple[str, str]:
    """The key pair a client of this folder's engine signs with (access key id, secret)."""
    return ACCESS_KEY_ID, read_secret(data_dir)


# -- finding or starting the engine -----------------------------------------------------


def ensure_running(data_dir: Path, timeout: float = 300.0) -> str:
    """Return the URL of the engine serving ``data_dir``, starting one if none runs.

    The URL is returned only once the engine there has proved it holds the folder's
    secret, so nothing is ever sent to another process that took its port.
    """
    prepare_folder(data_dir)
    secret = read_secret(data_dir)
    url = _verified_url(data_dir, secret)
    if url is not None:
        return url
    with _private_open(data_dir / START_LOCK) as start_lock:
        # Serialises tools starting at the same moment, so only one of them spawns.
        fcntl.flock(start_lock, fcntl.LOCK_EX)
        url = _verified_url(data_dir, secret)
        if url is not None:
            return url
        if not engine_alive(data_dir):
            _spawn(data_dir)
        return _wait_for(data_dir, secret, timeout)


def engine_alive(data_dir: Path) -> bool:
    """Whether an engine holds the folder's running lock (serving, or still loading)."""
    path = data_dir / RUNNING_LOCK
    try:
        probe = path.open("rb")
    except FileNotFoundError:
        return False
    with probe:
        try:
            # Shared, so probing never keeps an engine from taking its exclusive lock for
            # long (it retries for a moment).
            fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
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
    command = [
        sys.executable,
        "-m",
        "localdb",
        "--data-dir",
        str(data_dir),
        "--port",
        str(previous_port),
    ]
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    logger.info("starting the local DynamoDB engine for %s", data_dir)
    # The child forks the engine off and exits at once (--detach), so the engine belongs
    # to no tool: it outlives the one that started it, its Ctrl-C, and leaves no zombie.
    with _private_open(data_dir / LOG, append=True) as log:
        launcher = subprocess.Popen(  # noqa: S603 - our own module, run with this interpreter
            [*command, "--detach"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
        )
    if launcher.wait(timeout=30) != 0:
        raise EngineError(f"the local DynamoDB engine failed to launch; see {data_dir / LOG}")


def _wait_for(data_dir: Path, secret: str, timeout: float) -> str:
    started = time.monotonic()
    seen_alive = False
    while time.monotonic() - started < timeout:
        url = _verified_url(data_dir, secret)
        if url is not None:
            return url
        alive = engine_alive(data_dir)
        seen_alive = seen_alive or alive
        # Gone after it started, or never came within a generous interpreter start-up.
        if not alive and (seen_alive or time.monotonic() - started > 20):
            raise EngineError(f"the local DynamoDB engine stopped; see {data_dir / LOG}")
        time.sleep(0.05)
    raise EngineError(
        f"the local DynamoDB engine did not start within {timeout:.0f}s; see {data_dir / LOG}"
    )


# Loopback only: never route the engine's health checks through an HTTP proxy.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def health(url: str, secret: str | None = None, timeout: float = 2.0) -> dict[str, Any] | None:
    """The engine's health answer, or None; with ``secret``, only if it proves holding it."""
    nonce = secrets.token_hex(16)
    try:
        with _opener.open(f"{url}{HEALTH_PATH}?nonce={nonce}", timeout=timeout) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError, http.client.HTTPException):
        # HTTPException: an engine killed while it answered (IncompleteRead, a bad status
        # line) is as good as none.
        return None
    if secret is not None and answer.get("proof") != proof(secret, "health", nonce):
        logger.warning("%s answers, but it is not this data folder's engine", url)
        return None
    return answer


def _verified_url(data_dir: Path, secret: str) -> str | None:
    try:
        state = json.loads((data_dir / STATE).read_text(encoding="utf-8"))
        url, pid = str(state["url"]), int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    answer = health(url, secret)
    if answer is None:
        return None
    if answer.get("protocol", 1) < PROTOCOL:
        _retire(data_dir, pid)
        return None
    return url


def _retire(data_dir: Path, pid: int) -> None:
    """Stop this folder's engine started by an earlier version (it proves its answers in a
    way this one no longer takes): it snapshots and exits, and the next start is ours."""
    logger.warning("the local DynamoDB engine (pid %d) is an earlier version; stopping it", pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while engine_alive(data_dir) and time.monotonic() < deadline:
        time.sleep(0.05)


# -- clients that heal ------------------------------------------------------------------


class _Guard:
    """One data folder's engine as this process's clients see it: its URL, and healing."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.secret = read_secret(data_dir)
        self.url = ensure_running(data_dir)
        self.first_url = self.url
        self.generation = 0  # how many times this process found the engine again
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Follow an engine another process started again elsewhere; True if it moved."""
        with self._lock:
            url = _verified_url(self.data_dir, self.secret)
            if url is None or url == self.url:
                return False
            self.url = url
            self.generation += 1
            return True

    def heal(self, seen: int, reason: str) -> None:
        """Bring the engine back (once, however many threads saw it fail)."""
        with self._lock:
            if self.generation != seen:
                return  # another thread already did, while this one waited
            logger.warning("the local DynamoDB engine %s; starting it again", reason)
            try:
                self.url = ensure_running(self.data_dir)
            except (EngineError, OSError) as exc:
                raise EngineUnreachable(error=exc) from exc
            self.generation += 1


_guards: dict[Path, _Guard] = {}
_guards_lock = threading.Lock()


def _guard(data_dir: Path) -> _Guard:
    key = data_dir.resolve()
    with _guards_lock:
        guard = _guards.get(key)
        if guard is None:
            guard = _guards[key] = _Guard(key)
        return guard


def attach(client: Any, data_dir: Path) -> None:
    """Make a boto3 DynamoDB client of this folder's engine heal and check its answers.

    Before each call the engine is known to be alive (its lock is held) or is started
    again, so a request is never sent to a dead engine's port, whoever holds it now. Each
    attempt signs a nonce of its own (so the engine, which serves a signed write once,
    never takes a retry for a replay), and its answer must carry the engine's proof for
    that nonce, its status code, headers and body (so an answer altered on its way is
    refused too), or the call is retried against the engine started again, or fails. A
    request that failed because the engine died is retried once it is back.
    """
    guard = _guard(data_dir)
    guard.refresh()
    events = client.meta.events

    def before_call(params: dict[str, Any], **_: Any) -> None:
        state: dict[str, Any] = {"nonce": "", "generation": guard.generation, "heals": 0}
        params["context"]["local_engine"] = state
        if not engine_alive(guard.data_dir):
            guard.heal(state["generation"], "is not running")
            state["generation"] = guard.generation
        params["url"] = _rebase(params["url"], guard.url)

    def before_sign(request: Any, **_: Any) -> None:
        state = getattr(request, "context", {}).get("local_engine")
        if state is None:
            return
        state["nonce"] = secrets.token_hex(16)  # this attempt's: signed, and proved back
        if NONCE_HEADER in request.headers:
            del request.headers[NONCE_HEADER]
        request.headers[NONCE_HEADER] = state["nonce"]

    def needs_retry(
        request_dict: dict[str, Any],
        response: Any = None,
        caught_exception: Exception | None = None,
        **_: Any,
    ) -> float | None:
        state = request_dict.get("context", {}).get("local_engine")
        if state is None:
            return None
        if response is not None:
            http = response[0]
            given = str(http.headers.get(PROOF_HEADER, ""))
            expected = response_proof(
                guard.secret,
                state["nonce"],
                http.status_code,
                http.headers.items(),
                http.content,
                proof_header=PROOF_HEADER,
            )
            if state["nonce"] and hmac.compare_digest(given, expected):
                return None
            problem = "answered without this folder's proof"
        elif isinstance(caught_exception, BotocoreConnectionError):
            if engine_alive(guard.data_dir):
                # Alive, perhaps started again by another thread or process: against
                # wherever it now serves, botocore's own retry (with backoff) decides.
                moved = guard.refresh()
                request_dict["url"] = _rebase(request_dict["url"], guard.url)
                if not moved or state["heals"] >= _HEALS_PER_CALL:
                    return None
                state["heals"] += 1
                return 0.0
            problem = "stopped"
        else:
            return None
        if state["heals"] >= _HEALS_PER_CALL:
            raise EngineUnreachable(
                error=EngineError(f"the engine {problem}, again after a restart")
            )
        state["heals"] += 1
        guard.heal(state["generation"], problem)
        state["generation"] = guard.generation
        request_dict["url"] = _rebase(request_dict["url"], guard.url)
        return 0.0

    events.register("before-call.dynamodb", before_call)
    events.register("before-sign.dynamodb", before_sign)
    events.register("needs-retry.dynamodb", needs_retry)


def _rebase(url: str, base: str) -> str:
    target, new = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit(target._replace(scheme=new.scheme, netloc=new.netloc))


def keep_alive(url: str, interval: float = KEEPALIVE_SECONDS) -> threading.Thread:
    """Ping the engine while this process lives, so that it does not stop as idle.

    Follows the engine when a client of this process started it again elsewhere; an
    engine that stopped is started again by the next request, not by the pings.
    """

    def current() -> str:
        for guard in list(_guards.values()):
            if guard.first_url == url:
                return guard.url
        return url

    def loop() -> None:
        healthy = True
        while True:
            time.sleep(interval)
            now_healthy = health(current()) is not None
            if healthy and not now_healthy:
                logger.warning(
                    "the local DynamoDB engine at %s stopped; the next request starts it again",
                    current(),
                )
            healthy = now_healthy

    thread = threading.Thread(target=loop, name="local-engine-keepalive", daemon=True)
    thread.start()
    return thread


def _private_open(path: Path, *, append: bool = False) -> Any:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else 0)
    fd = os.open(path, flags, FILE_MODE)
    return os.fdopen(fd, "ab" if append else "wb")
