"""Settings from the environment and ``backend/.env``, and logging set up once at start.

``Settings.from_env`` is the only reader of ``os.environ``.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pythonjsonlogger.json import JsonFormatter
from zxcvbn import zxcvbn

from backend.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
DEFAULT_DOTENV = PACKAGE_DIR / ".env"
DEFAULT_LOCAL_DIR = REPO_DIR / ".localdb"
DEFAULT_REGION = "ap-northeast-2"

# The values the setup guide and .env.example ship: recognised so that a copied example
# file fails with advice instead of an AWS signature error.
PLACEHOLDER_ACCESS_KEYS = frozenset({"your_access_key_id_here", "your-access-key-id"})
PLACEHOLDER_SECRET_KEYS = frozenset({"your_secret_access_key_here", "your-secret-access-key"})
PLACEHOLDER_APP_SECRETS = frozenset({"your-secret-key-change-in-production", "change-me"})

# Variables whose presence means "credentials for real AWS are configured here".
_AWS_CREDENTIAL_MARKERS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_LAMBDA_FUNCTION_NAME",
)


ENVIRONMENTS = ("development", "production")
OPEN_WRITES_VARIABLE = "ALLOW_OPEN_WRITES"


class Mode(StrEnum):
    """Where the DynamoDB tables live."""

    LOCAL = "local"  # the embedded engine, started on demand under LOCAL_DYNAMODB_DIR
    AWS = "aws"  # Amazon DynamoDB, with boto3's credential chain
    ENDPOINT = "endpoint"  # any DynamoDB-compatible endpoint (AWS_ENDPOINT_URL_DYNAMODB)


@dataclass(frozen=True)
class Settings:
    """Everything the application reads from its environment, resolved once."""

    mode: Mode = Mode.LOCAL
    region: str = DEFAULT_REGION
    departments_table: str = "departments"
    events_table: str = "events"
    endpoint_url: str | None = None
    s3_endpoint_url: str | None = None  # for an s3:// migration source
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    aws_profile: str | None = None
    flask_env: str = "development"
    secret_key: str | None = field(default=None, repr=False)
    local_dir: Path = DEFAULT_LOCAL_DIR
    max_pool_connections: int = 10
    # Month pages kept as rendered, by calendar version, per process (0: none).
    list_cache_mb: int = 16
    api_tokens: tuple[str, ...] = field(default=(), repr=False)  # bearer tokens for writes
    # Each token's name (API_TOKENS entries may be name:token), for logs and created_by.
    api_token_names: tuple[str, ...] = ()
    # Sign-in with the company's OpenID Connect provider (backend/access/oidc.py).
    oidc_issuer: str | None = None
    oidc_audiences: tuple[str, ...] = ()
    oidc_groups_claim: str = "groups"
    oidc_admin_group: str = "calendar-admins"
    oidc_client_id: str | None = None  # the page's public client (authorisation code + PKCE)
    oidc_scopes: str = "openid email profile"  # what the page asks the provider for
    # Production without API_TOKENS only when asked for by name (ALLOW_OPEN_WRITES=true).
    allow_open_writes: bool = False
    cors_origins: tuple[str, ...] = ()  # browser origins allowed to call the API
    log_format: str = "text"  # "json" for one JSON object per line (production)
    log_level: str = "INFO"
    # The report e-mail job.
    reports_bucket: str | None = None
    mail_from: str = "calendar@example.com"
    smtp_host: str | None = None  # set: send through SMTP (Gmail) instead of SES
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = True
    daily_email_limit: int = 100
    report_days: int = 7
    report_timezone: str = "Asia/Seoul"
    ses_endpoint_url: str | None = None
    # Event dates and times are wall-clock dates and times in this zone (iCalendar, legacy).
    calendar_timezone: str = "Asia/Seoul"
    calendar_domain: str | None = None  # the @domain of feed UIDs; default: the request's host

    @property
    def is_production(self) -> bool:
        return self.flask_env == "production"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        dotenv_path: Path | None = DEFAULT_DOTENV,
    ) -> Settings:
        """Build settings from the process environment over ``backend/.env``.

        Real environment variables win over the file, as python-dotenv does by default.
        The file is read into a mapping rather than into ``os.environ``: settings pass
        credentials to boto3 explicitly, so nothing global changes behind the tests' back.
        """
        env: dict[str, str] = {}
        if dotenv_path is not None and dotenv_path.is_file():
            env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        env.update(os.environ if environ is None else environ)
        source = str(dotenv_path) if dotenv_path is not None and dotenv_path.is_file() else None
        return cls._from_mapping(env, source)

    @classmethod
    def _from_mapping(cls, env: Mapping[str, str], source: str | None) -> Settings:
        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        where = f"the environment or {source}" if source else "the environment"
        access_key = get("AWS_ACCESS_KEY_ID")
        secret = get("AWS_SECRET_ACCESS_KEY")
        if access_key in PLACEHOLDER_ACCESS_KEYS or secret in PLACEHOLDER_SECRET_KEYS:
            raise ConfigError(
                f"AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in {where} still hold the example "
                "placeholders. Set your real access key pair (IAM → Users → Security "
                "credentials), or delete both lines to use the embedded local DynamoDB."
            )
        if (access_key is None) != (secret is None):
            missing = "AWS_SECRET_ACCESS_KEY" if secret is None else "AWS_ACCESS_KEY_ID"
            raise ConfigError(f"{missing} is not set in {where}: the AWS key pair needs both.")

        endpoint = get("AWS_ENDPOINT_URL_DYNAMODB") or get("AWS_ENDPOINT_URL")
        flask_env = _choice(
            "FLASK_ENV", (get("FLASK_ENV") or "development").lower(), ENVIRONMENTS, "development"
        )
        production = flask_env == "production"
        mode = _choose_mode(get("DYNAMODB_MODE"), endpoint, env, production=production)

        secret_key = get("SECRET_KEY")
        if production and (weakness := secret_key_weakness(secret_key)):
            raise ConfigError(
                f"FLASK_ENV=production needs a strong SECRET_KEY in {where}: {weakness}. "
                "Generate one with: "
                'python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        api_token_names, api_tokens = _named_tokens(get("API_TOKENS"))
        oidc_issuer = _issuer(get("OIDC_ISSUER"))
        oidc_client_id = get("OIDC_CLIENT_ID")
        oidc_audiences = _words(get("OIDC_AUDIENCE"))
        if oidc_client_id and oidc_client_id not in oidc_audiences:
            oidc_audiences += (oidc_client_id,)  # the page sends its ID tokens
        if oidc_issuer and not oidc_audiences:
            raise ConfigError(
                f"OIDC_ISSUER is set in {where} but OIDC_AUDIENCE is not: set it to the "
                "audience (or app client id) the provider puts in tokens for this service"
            )
        if not oidc_issuer and (oidc_audiences or oidc_client_id):
            raise ConfigError(
                f"OIDC_AUDIENCE or OIDC_CLIENT_ID is set in {where} without OIDC_ISSUER: "
                "set OIDC_ISSUER to the provider's issuer URL too"
            )
        allow_open_writes = (
            _choice(
                OPEN_WRITES_VARIABLE,
                (get(OPEN_WRITES_VARIABLE) or "false").lower(),
                ("true", "false"),
                "false",
            )
            == "true"
        )
        if production and not api_tokens and not oidc_issuer and not allow_open_writes:
            raise ConfigError(
                f"FLASK_ENV=production needs API_TOKENS or OIDC_ISSUER in {where}: without "
                "them anyone who can reach the server can change and delete every department "
                "and event. Set API_TOKENS to one or more comma-separated tokens "
                '(python -c "import secrets; print(secrets.token_urlsafe(32))"), or '
                "OIDC_ISSUER and OIDC_AUDIENCE to sign people in with the company's provider, "
                f"or set {OPEN_WRITES_VARIABLE}=true to serve open writes on purpose."
            )

        local_dir = Path(get("LOCAL_DYNAMODB_DIR") or DEFAULT_LOCAL_DIR).expanduser()
        default = "json" if flask_env == "production" else "text"
        pool = get("DYNAMODB_MAX_POOL_CONNECTIONS")
        return cls(
            mode=mode,
            region=get("AWS_REGION") or get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            departments_table=get("DEPARTMENTS_TABLE") or "departments",
            events_table=get("EVENTS_TABLE") or "events",
            endpoint_url=endpoint,
            s3_endpoint_url=get("AWS_ENDPOINT_URL_S3") or get("AWS_ENDPOINT_URL"),
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            aws_session_token=get("AWS_SESSION_TOKEN"),
            aws_profile=get("AWS_PROFILE"),
            flask_env=flask_env,
            secret_key=secret_key,
            local_dir=local_dir,
            max_pool_connections=_positive_int("DYNAMODB_MAX_POOL_CONNECTIONS", pool, 10),
            list_cache_mb=_whole_number("LIST_CACHE_MB", get("LIST_CACHE_MB"), 16),
            api_tokens=api_tokens,
            api_token_names=api_token_names,
            oidc_issuer=oidc_issuer,
            oidc_audiences=oidc_audiences,
            oidc_groups_claim=get("OIDC_GROUPS_CLAIM") or "groups",
            oidc_admin_group=get("OIDC_ADMIN_GROUP") or "calendar-admins",
            oidc_client_id=oidc_client_id,
            oidc_scopes=_scopes(get("OIDC_SCOPES")),
            allow_open_writes=allow_open_writes,
            cors_origins=_origins(get("CORS_ORIGINS")),
            log_format=_choice("LOG_FORMAT", get("LOG_FORMAT"), ("text", "json"), default),
            log_level=_choice("LOG_LEVEL", (get("LOG_LEVEL") or "INFO").upper(), _LEVELS, "INFO"),
            reports_bucket=get("REPORTS_BUCKET"),
            mail_from=get("MAIL_FROM") or "calendar@example.com",
            smtp_host=get("SMTP_HOST"),
            smtp_port=_positive_int("SMTP_PORT", get("SMTP_PORT"), 587),
            smtp_user=get("SMTP_USER"),
            smtp_password=get("SMTP_PASSWORD"),
            smtp_starttls=_choice(
                "SMTP_STARTTLS", (get("SMTP_STARTTLS") or "true").lower(), ("true", "false"), "true"
            )
            == "true",
            daily_email_limit=_positive_int("DAILY_EMAIL_LIMIT", get("DAILY_EMAIL_LIMIT"), 100),
            report_days=_positive_int("REPORT_DAYS", get("REPORT_DAYS"), 7),
            report_timezone=_timezone("REPORT_TIMEZONE", get("REPORT_TIMEZONE")),
            ses_endpoint_url=get("AWS_ENDPOINT_URL_SESV2") or get("AWS_ENDPOINT_URL"),
            calendar_timezone=_timezone("CALENDAR_TIMEZONE", get("CALENDAR_TIMEZONE")),
            calendar_domain=get("CALENDAR_DOMAIN"),
        )

    def resolved_secret_key(self) -> str:
        """The key that signs list cursors.

        Without ``SECRET_KEY`` (development only; production refuses to start), a random
        key is generated once and kept beside the local data, so cursors stay valid
        across restarts and across worker processes.
        """
        if self.secret_key:
            return self.secret_key
        path = self.local_dir / "secret-key"
        if path.is_file():
            return path.read_text(encoding="ascii").strip()
        self.local_dir.mkdir(parents=True, exist_ok=True)
        candidate = secrets.token_urlsafe(32)
        # Written whole to a file of its own, then published with link(), which fails if
        # the name exists: a process that loses the race reads the winner's complete key,
        # never a file that is created but not yet written.
        fd, temporary = tempfile.mkstemp(dir=self.local_dir, prefix=".secret-key.")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(candidate)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path)
        except FileExistsError:  # another process won the race: use its key
            return path.read_text(encoding="ascii").strip()
        finally:
            os.unlink(temporary)
        return candidate


def secret_key_weakness(key: str | None) -> str | None:
    """Why ``key`` is too weak to sign cursors in production, or None when it is strong."""
    if key is None:
        return "it is not set"
    if key in PLACEHOLDER_APP_SECRETS:
        return "it is the example value"
    return secret_weakness(key)


# A secret must take an attacker at least 2**128 guesses by a strength estimate (zxcvbn):
# what brute force against a key or token ever has to beat.
MIN_SECRET_BITS = 128
# zxcvbn counts a character it finds in no pattern as 10 guesses (about 3.3 bits), a low
# estimate on purpose, so 128 bits needs at least this many random characters.
MIN_SECRET_CHARACTERS = math.ceil(MIN_SECRET_BITS / math.log2(10))
# The estimate reads at most this many characters (zxcvbn's own limit: its matching grows
# with the square of the length); a longer secret is at least as strong as its beginning.
_ESTIMATED_CHARACTERS = 72
# Words an operator might build a secret from, which no general dictionary lists.
_PRODUCT_WORDS = ("calendar", "department", "departments", "events", "secret", "token")
_PATTERNS = {
    "dictionary": "a dictionary word or common password",
    "spatial": "a keyboard walk (like qwerty)",
    "repeat": "repeated characters or blocks (like aaaa or abcabc)",
    "sequence": "a sequence (like abcd or 0123)",
    "regex": "a year",
    "date": "a date",
}


def secret_weakness(key: str) -> str | None:
    """Why a secret (a signing key, a bearer token) is too weak, or None when it is strong.

    Strength is the number of guesses zxcvbn estimates an attacker needs: it finds
    dictionary words and common passwords (also reversed or in l33t), repeats, sequences,
    keyboard walks and dates, and counts the rest as random characters, about 3.3 bits each.
    ``secrets.token_urlsafe(32)`` (43 characters) and ``token_hex(32)`` (64) are far past
    128 bits; ``token_hex(16)``, random as it is, is too short to be told apart from the hex
    of something guessable. The answer never quotes the secret or a part of it.
    """
    estimate = zxcvbn(key[:_ESTIMATED_CHARACTERS], user_inputs=_PRODUCT_WORDS)
    bits = float(estimate["guesses_log10"]) * math.log2(10)
    if bits >= MIN_SECRET_BITS:
        return None
    reasons = []
    if len(key) < MIN_SECRET_CHARACTERS:
        reasons.append(
            f"it has {len(key)} characters, and at least {MIN_SECRET_CHARACTERS} random ones "
            "are needed"
        )
    found = dict.fromkeys(
        _PATTERNS[match["pattern"]]
        for match in estimate["sequence"]
        if match["pattern"] in _PATTERNS
    )
    if found:
        reasons.append(f"it contains {', '.join(found)}")
    return f"a strength estimate puts it at about {bits:.0f} bits, fewer than {MIN_SECRET_BITS}" + (
        f": {'; '.join(reasons)}" if reasons else ""
    )


def _choose_mode(
    explicit: str | None, endpoint: str | None, env: Mapping[str, str], *, production: bool
) -> Mode:
    if explicit is not None:
        try:
            chosen = Mode(explicit.lower())
        except ValueError:
            raise ConfigError(
                f"DYNAMODB_MODE={explicit!r} is not one of: local, aws, endpoint"
            ) from None
        if chosen is Mode.ENDPOINT and endpoint is None:
            raise ConfigError("DYNAMODB_MODE=endpoint needs AWS_ENDPOINT_URL_DYNAMODB.")
        if chosen is Mode.LOCAL and production:
            raise ConfigError(
                "DYNAMODB_MODE=local is the embedded development engine; FLASK_ENV=production "
                "uses Amazon DynamoDB (DYNAMODB_MODE=aws) or an endpoint "
                "(AWS_ENDPOINT_URL_DYNAMODB)."
            )
        return chosen
    if endpoint is not None:
        return Mode.ENDPOINT
    if production:
        # Production means AWS, with boto3's default credential chain (an instance or
        # container role sets no variable): never the embedded engine on the host's disk.
        return Mode.AWS
    if any(env.get(name, "").strip() for name in _AWS_CREDENTIAL_MARKERS):
        return Mode.AWS
    return Mode.LOCAL


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _choice(name: str, raw: str | None, allowed: tuple[str, ...], default: str) -> str:
    if raw is None:
        return default
    if raw not in allowed:
        raise ConfigError(f"{name}={raw!r} is not one of: {', '.join(allowed)}")
    return raw


def _timezone(name: str, raw: str | None) -> str:
    zone = raw or "Asia/Seoul"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{name}={zone!r} is not a time zone; use an IANA name such as Asia/Seoul"
        ) from None
    return zone


def _tokens(raw: str | None) -> tuple[str, ...]:
    """``API_TOKENS``: comma-separated bearer tokens, each random enough to be guess-proof
    (checked as SECRET_KEY is: at least 128 bits by a strength estimate, see
    ``secret_weakness``). The error names a token by its position, never by its value."""
    tokens = tuple(t.strip() for t in (raw or "").split(",") if t.strip())
    for position, token in enumerate(tokens, 1):
        weakness = secret_weakness(token)
        if weakness is not None:
            raise ConfigError(
                f"API_TOKENS: token {position} of {len(tokens)} is too weak ({weakness}); "
                'generate tokens with: python -c "import secrets; '
                'print(secrets.token_urlsafe(32))"'
            )
    return tokens


_TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _named_tokens(raw: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``API_TOKENS`` entries, each ``token`` or ``name:token``: the names (``token-<n>``
    for unnamed ones) and the tokens. A name shows in logs and in ``created_by``, never
    the token."""
    names: list[str] = []
    tokens: list[str] = []
    for position, entry in enumerate((e.strip() for e in (raw or "").split(",")), 1):
        if not entry:
            continue
        name, colon, token = entry.partition(":")
        if not colon:
            name, token = f"token-{len(tokens) + 1}", entry
        elif not _TOKEN_NAME.fullmatch(name.strip()):
            raise ConfigError(
                f"API_TOKENS: entry {position} is name:token with a name that is not 1-64 "
                "letters, digits, '.', '_' or '-'"
            )
        names.append(name.strip())
        tokens.append(token.strip())
    if len(set(names)) != len(names):
        raise ConfigError("API_TOKENS: two tokens have the same name")
    return tuple(names), _tokens(",".join(tokens))


def _words(raw: str | None) -> tuple[str, ...]:
    return tuple(w.strip() for w in (raw or "").split(",") if w.strip())


def _scopes(raw: str | None) -> str:
    """``OIDC_SCOPES``: space-separated, ``openid`` always among them (the page signs in with
    the ID token it brings)."""
    scopes = (raw or "openid email profile").split()
    if "openid" not in scopes:
        scopes.insert(0, "openid")
    return " ".join(dict.fromkeys(scopes))


def _issuer(raw: str | None) -> str | None:
    """``OIDC_ISSUER``: the provider's issuer URL, https (http only on a loopback address,
    for a provider run on this machine)."""
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme == "https" and parts.hostname:
        return raw
    if parts.scheme == "http" and is_loopback_url(raw):
        return raw
    raise ConfigError(
        f"OIDC_ISSUER={raw!r} must be an https:// URL (http:// only on a loopback address, "
        "for a provider on this machine)"
    )


def _origins(raw: str | None) -> tuple[str, ...]:
    """``CORS_ORIGINS``: comma-separated origins such as https://calendar.example.com."""
    origins = tuple(o.strip().rstrip("/") for o in (raw or "").split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ConfigError(f"CORS_ORIGINS entry {origin!r} is not an origin (https://host)")
    return origins


def _positive_int(name: str, raw: str | None, default: int) -> int:
    value = _whole_number(name, raw, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, not {value}")
    return value


def _whole_number(name: str, raw: str | None, default: int) -> int:
    """A whole number of at least 0."""
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more, not {value}")
    return value


def is_loopback_url(url: str) -> bool:
    """True for http(s)://localhost or a loopback address, where no real credentials go."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


EMF_KEY = "_aws"  # CloudWatch embedded metric format: the metadata block of a log line


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line, keeping the embedded-metric block.

    python-json-logger leaves out every extra key that starts with ``_``, and CloudWatch
    reads metrics only from a top-level ``_aws`` object: without this, the access log's
    metrics, and the alarms on them, would never exist.
    """

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        emf = record.__dict__.get(EMF_KEY)
        if emf is not None:
            log_data[EMF_KEY] = emf


# Line breaks and other control characters in a text log line would let a request value
# (a path with %0A) write a line of its own: they are written as escapes instead.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class TextLineFormatter(logging.Formatter):
    """Plain text, one line per record; a traceback, if any, follows on lines of its own."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return _UNPRINTABLE.sub(_escape, super().formatMessage(record))


def configure_logging(
    log_format: str = "text", level: str = "INFO", stream: TextIO | None = None
) -> None:
    """Configure the root logger once, at process start: JSON lines or plain text on
    ``stream``, stdout unless given. A command whose stdout is its result (the report's
    JSON summary) passes stderr, so that its output stays one parseable document."""
    handler = logging.StreamHandler(sys.stdout if stream is None else stream)
    if log_format == "json":
        handler.setFormatter(
            JsonLineFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(TextLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if log_format == "json":
        # Werkzeug's own request lines would repeat ours as plain text.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
