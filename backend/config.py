"""Settings from the environment and ``backend/.env``, and logging set up once at start.

``Settings.from_env`` is the only reader of ``os.environ``.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pythonjsonlogger.json import JsonFormatter

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
    api_tokens: tuple[str, ...] = field(default=(), repr=False)  # bearer tokens for writes
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
        mode = _choose_mode(get("DYNAMODB_MODE"), endpoint, env)

        flask_env = (get("FLASK_ENV") or "development").lower()
        secret_key = get("SECRET_KEY")
        if flask_env == "production" and (
            secret_key is None or secret_key in PLACEHOLDER_APP_SECRETS or len(secret_key) < 16
        ):
            raise ConfigError(
                f"FLASK_ENV=production needs a real SECRET_KEY in {where} (at least 16 "
                "characters, not the example value). Generate one with: "
                'python -c "import secrets; print(secrets.token_urlsafe(32))"'
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
            api_tokens=_tokens(get("API_TOKENS")),
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
            report_timezone=get("REPORT_TIMEZONE") or "Asia/Seoul",
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
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race: use its key
            return path.read_text(encoding="ascii").strip()
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(candidate)
        return candidate


def _choose_mode(explicit: str | None, endpoint: str | None, env: Mapping[str, str]) -> Mode:
    if explicit is not None:
        try:
            chosen = Mode(explicit.lower())
        except ValueError:
            raise ConfigError(
                f"DYNAMODB_MODE={explicit!r} is not one of: local, aws, endpoint"
            ) from None
        if chosen is Mode.ENDPOINT and endpoint is None:
            raise ConfigError("DYNAMODB_MODE=endpoint needs AWS_ENDPOINT_URL_DYNAMODB.")
        return chosen
    if endpoint is not None:
        return Mode.ENDPOINT
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
    """``API_TOKENS``: comma-separated bearer tokens; each must be long enough to guess-proof."""
    tokens = tuple(t.strip() for t in (raw or "").split(",") if t.strip())
    for token in tokens:
        if len(token) < 16:
            raise ConfigError(
                "API_TOKENS holds a token shorter than 16 characters; generate tokens with: "
                'python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
    return tokens


def _origins(raw: str | None) -> tuple[str, ...]:
    """``CORS_ORIGINS``: comma-separated origins such as https://calendar.example.com."""
    origins = tuple(o.strip().rstrip("/") for o in (raw or "").split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ConfigError(f"CORS_ORIGINS entry {origin!r} is not an origin (https://host)")
    return origins


def _positive_int(name: str, raw: str | None, default: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, not {value}")
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


def configure_logging(log_format: str = "text", level: str = "INFO") -> None:
    """Configure the root logger once, at process start: JSON lines or plain text on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if log_format == "json":
        # Werkzeug's own request lines would repeat ours as plain text.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
