"""Django settings, read from the environment (see docs/configuration.md)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from config.local_secrets import load_local_secrets
from observability.logs import LOG_FORMATS, logging_config
from schemas.limits import PERSISTED_DOCUMENT_MAX_BYTES

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("POSTS_VAR_DIR", BASE_DIR / "var"))


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}")


def _env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {value}")
    return value


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return value


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# APP_ENV=production demands explicit, strong secrets and refuses to start without them.
APP_ENV = os.environ.get("APP_ENV", "development").strip().lower()
PRODUCTION = APP_ENV == "production"

DEBUG = _env_bool("DEBUG", False)
if DEBUG and PRODUCTION:
    # Debug pages show settings, SQL and tracebacks to anyone who asks.
    raise ImproperlyConfigured("DEBUG cannot be on with APP_ENV=production")

# Secrets: explicit environment values win; otherwise (outside production) they
# are generated once and kept in var/secrets.json (git-ignored) so tokens survive
# restarts.
_SECRET_NAMES = ("SECRET_KEY", "JWT_SECRET")
MIN_JWT_SECRET_BYTES = 32
# Values seen in tutorials and templates: as good as public.
_PLACEHOLDER_SECRETS = {
    "secret",
    "changeme",
    "change-me",
    "jwt-secret",
    "your-secret-key",
    "django-insecure",
}


def _check_secret(name: str, value: str) -> str:
    if len(value.encode("utf-8")) < MIN_JWT_SECRET_BYTES:
        raise ImproperlyConfigured(
            f"{name} must be at least {MIN_JWT_SECRET_BYTES} bytes (HS256: RFC 7518 section 3.2)"
        )
    if value.strip().lower() in _PLACEHOLDER_SECRETS or value.startswith("django-insecure"):
        raise ImproperlyConfigured(f"{name} is a well-known placeholder; set a random value")
    return value


if PRODUCTION:
    _missing = [name for name in _SECRET_NAMES if not os.environ.get(name)]
    if _missing:
        raise ImproperlyConfigured(f"APP_ENV=production requires {', '.join(_missing)} to be set")
    _local_secrets: dict[str, str] = {}
elif all(os.environ.get(name) for name in _SECRET_NAMES):
    _local_secrets = {}
else:
    _local_secrets = load_local_secrets(VAR_DIR / "secrets.json", _SECRET_NAMES)
SECRET_KEY = _check_secret(
    "SECRET_KEY", os.environ.get("SECRET_KEY") or _local_secrets["SECRET_KEY"]
)
JWT_SECRET = _check_secret(
    "JWT_SECRET", os.environ.get("JWT_SECRET") or _local_secrets["JWT_SECRET"]
)
# Access tokens are short-lived; a session lives on through its refresh token.
JWT_LIFETIME_SECONDS = _env_int("JWT_LIFETIME_SECONDS", 900, minimum=60)
JWT_ISSUER = os.environ.get("JWT_ISSUER", "posts-api")
# Clock skew tolerated between instances when checking exp, nbf and iat.
JWT_LEEWAY_SECONDS = _env_int("JWT_LEEWAY_SECONDS", 30, minimum=0)
# A refresh token's lifetime; each refresh issues a new one, so a session in use lives on.
REFRESH_TOKEN_LIFETIME_SECONDS = _env_int("REFRESH_TOKEN_LIFETIME_SECONDS", 2592000, minimum=60)
# Live sessions per user; a new one beyond this ends the oldest.
MAX_SESSIONS_PER_USER = _env_int("MAX_SESSIONS_PER_USER", 50, minimum=1)

_DEFAULT_SQLITE = VAR_DIR / "posts.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{_DEFAULT_SQLITE}"
SUPPORTED_DATABASES = ("sqlite", "mysql", "mariadb")


def _check_database_url(url: str) -> None:
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise ImproperlyConfigured(
            "DATABASE_URL is not a database URL (e.g. sqlite:///path or "
            "mysql+mysqldb://user:pw@host:3306/db?charset=utf8mb4)"
        ) from None
    if backend not in SUPPORTED_DATABASES:
        raise ImproperlyConfigured(
            f"DATABASE_URL: unsupported database {backend!r}; use sqlite or mysql (MariaDB)"
        )


_check_database_url(DATABASE_URL)
if not os.environ.get("DATABASE_URL"):
    # The default database lives in var/, private to its owner like the secrets:
    # the directory 0700 and the file 0600 (SQLite gives its -wal and -shm files
    # the database file's mode).
    VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(_DEFAULT_SQLITE, os.O_CREAT | os.O_WRONLY, 0o600))
# Seconds a request waits for a database connection or lock before failing.
DATABASE_TIMEOUT_SECONDS = _env_int("DATABASE_TIMEOUT_SECONDS", 5, minimum=1)
# Seconds a MySQL query may wait for the server's answer before the request fails
# (a server that went silent costs a request at most this plus the connect timeout).
DATABASE_QUERY_TIMEOUT_SECONDS = _env_int("DATABASE_QUERY_TIMEOUT_SECONDS", 10, minimum=1)

BCRYPT_ROUNDS = _env_int("BCRYPT_ROUNDS", 12, minimum=4)
# Low costs are for tests; production refuses to start with a cost an attacker would welcome.
MIN_PRODUCTION_BCRYPT_ROUNDS = 12
if PRODUCTION and BCRYPT_ROUNDS < MIN_PRODUCTION_BCRYPT_ROUNDS:
    raise ImproperlyConfigured(
        f"BCRYPT_ROUNDS must be at least {MIN_PRODUCTION_BCRYPT_ROUNDS} with APP_ENV=production"
    )

POSTS_CACHE_TTL_SECONDS = _env_int("POSTS_CACHE_TTL_SECONDS", 300)
POSTS_CACHE_MAX_BYTES = _env_int("POSTS_CACHE_MAX_BYTES", 64 * 1024 * 1024)
POSTS_MAX_PER_USER = _env_int("POSTS_MAX_PER_USER", 10_000, minimum=1)
POSTS_MAX_BYTES_PER_USER = _env_int("POSTS_MAX_BYTES_PER_USER", 64 * 1024 * 1024, minimum=1)

# The largest legal request is a 1 MiB post whose every byte JSON-escapes to
# six (\u0001): about 6 MiB. 8 MiB sits above that and far below harm.
MAX_REQUEST_BYTES = _env_int("MAX_REQUEST_BYTES", 8 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES

# GraphiQL and introspection together; off for a locked-down deployment, and off
# in production unless GRAPHQL_EXPLORER turns them on explicitly.
GRAPHQL_EXPLORER = _env_bool("GRAPHQL_EXPLORER", not PRODUCTION)

# "testserver" is the host of Django's test client; production has no use for it.
ALLOWED_HOSTS = _env_list(
    "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", *([] if PRODUCTION else ["testserver"])]
)
CORS_ALLOWED_ORIGINS = _env_list("CORS_ALLOWED_ORIGINS", [])
CORS_ALLOW_HEADERS = ("authorization", "content-type")
CORS_ALLOW_METHODS = ("GET", "POST", "OPTIONS")
CORS_URLS_REGEX = r"^/graphql/?$"

INSTALLED_APPS = [
    # `make dev` serves static files through WhiteNoise too, as production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    # An app only for its templates/ and static/ (the GraphiQL page and its assets).
    "gql",
    # Only for its management commands (config/management/commands/).
    "config",
]

MIDDLEWARE = [
    # First: the request id reaches every response (413 and 500 included) and log line.
    "observability.middleware.RequestObservabilityMiddleware",
    "gql.middleware.AllowedHostMiddleware",
    "gql.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (GraphiQL's) answered before the rest of the stack runs.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "gql.middleware.CorsOnlyWithOriginMiddleware",
    # /graphql is csrf-exempt (tokens ride in a header, never a cookie); anything
    # added later is protected by default.
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
# JSON, like every other answer of the service (Django's page is HTML).
CSRF_FAILURE_VIEW = "gql.http_errors.csrf_failure"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

# Django's ORM is not used: every database call goes through SQLAlchemy.
DATABASES: dict[str, dict[str, str]] = {}

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Static files: only GraphiQL's (gql/static/), served by WhiteNoise from our own
# origin. `make run` collects them into STATIC_ROOT (git-ignored), gzipped beside
# each file, so WhiteNoise can answer Accept-Encoding: gzip without compressing
# per request.
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Nothing collected (a fresh clone, a server started without `make run`): serve
# the same files from gql/static/ directly, only without the gzipped variants.
WHITENOISE_USE_FINDERS = DEBUG or not STATIC_ROOT.is_dir()
# Vendored files live under a <package>@<version>/ directory, so a path never
# changes content and may be cached for good (Cache-Control: immutable).
WHITENOISE_IMMUTABLE_FILE_TEST = rf"^{re.escape(STATIC_URL)}graphiql/(?:@[^/]+/)?[^/@]+@[0-9][^/]*/"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Security headers; HTTPS-only settings switch on with SECURE_COOKIES_AND_HSTS.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "no-referrer"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
_HTTPS = _env_bool("HTTPS", PRODUCTION)
SECURE_SSL_REDIRECT = _HTTPS
# Probes (load balancer, orchestrator) reach an instance directly, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = _HTTPS
CSRF_COOKIE_SECURE = _HTTPS
SECURE_HSTS_SECONDS = 31536000 if _HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _HTTPS
SECURE_HSTS_PRELOAD = _HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _HTTPS else None

# One line per record, with the request id: JSON (one object a line) or text.
LOG_FORMAT = _env_choice("LOG_FORMAT", "json" if PRODUCTION else "text", LOG_FORMATS)
LOGGING = logging_config(log_format=LOG_FORMAT, level=os.environ.get("LOG_LEVEL", "INFO"))

# GET /metrics (Prometheus), and the Bearer token it then requires, if any.
METRICS_ENABLED = _env_bool("METRICS_ENABLED", False)
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()

# GraphQL document limits (per request document), checked cheapest first: bytes of
# the raw string before lexing, tokens while parsing, selected fields before
# validation (GraphQL Armor's character, token and cost limits), then depth and
# aliases during validation.
GRAPHQL_MAX_DOCUMENT_BYTES = _env_int("GRAPHQL_MAX_DOCUMENT_BYTES", 16 * 1024, minimum=256)
if GRAPHQL_MAX_DOCUMENT_BYTES > PERSISTED_DOCUMENT_MAX_BYTES:
    raise ImproperlyConfigured(
        f"GRAPHQL_MAX_DOCUMENT_BYTES must be at most {PERSISTED_DOCUMENT_MAX_BYTES}"
    )
GRAPHQL_MAX_FIELDS = _env_int("GRAPHQL_MAX_FIELDS", 500, minimum=10)
GRAPHQL_MAX_DEPTH = _env_int("GRAPHQL_MAX_DEPTH", 8, minimum=2)
GRAPHQL_MAX_ALIASES = _env_int("GRAPHQL_MAX_ALIASES", 15, minimum=0)
GRAPHQL_MAX_TOKENS = _env_int("GRAPHQL_MAX_TOKENS", 1000, minimum=50)
# What validation's cost grows with, capped before it runs (docs/adr/ on the engine).
GRAPHQL_MAX_OPERATIONS = _env_int("GRAPHQL_MAX_OPERATIONS", 10, minimum=1)
GRAPHQL_MAX_FRAGMENTS = _env_int("GRAPHQL_MAX_FRAGMENTS", 30, minimum=0)
GRAPHQL_MAX_SPREADS = _env_int("GRAPHQL_MAX_SPREADS", 60, minimum=0)
GRAPHQL_MAX_DIRECTIVES = _env_int("GRAPHQL_MAX_DIRECTIVES", 30, minimum=0)
GRAPHQL_MAX_REPEATED_FIELDS = _env_int("GRAPHQL_MAX_REPEATED_FIELDS", 20, minimum=1)
# Documents one client address may make one process prepare (parse and validate) that
# it does not already hold, per minute.
GRAPHQL_NEW_DOCUMENTS_PER_ADDRESS_PER_MINUTE = _env_int(
    "GRAPHQL_NEW_DOCUMENTS_PER_ADDRESS_PER_MINUTE", 60, minimum=1
)

# Live updates: open postEvents subscriptions per user, over every worker and instance.
SUBSCRIPTIONS_MAX_PER_USER = _env_int("SUBSCRIPTIONS_MAX_PER_USER", 10, minimum=1)

# Apollo automatic persisted queries: a store shared through the database (bounded,
# least recently used evicted) with a bounded per-process LRU in front of it.
APQ_ENABLED = _env_bool("APQ_ENABLED", True)
APQ_MAX_DOCUMENTS = _env_int("APQ_MAX_DOCUMENTS", 10_000, minimum=1)
APQ_CACHE_DOCUMENTS = _env_int("APQ_CACHE_DOCUMENTS", 1_000, minimum=1)
# An Apollo persisted-query manifest: when set, only its documents run.
GRAPHQL_TRUSTED_DOCUMENTS = os.environ.get("GRAPHQL_TRUSTED_DOCUMENTS", "").strip() or None

# Whole getPosts/connection responses, as sent, per process (bytes); 0 turns it off.
RESPONSE_CACHE_MAX_BYTES = _env_int("RESPONSE_CACHE_MAX_BYTES", 64 * 1024 * 1024)

# Failed-login throttling, shared through the database by every worker and instance.
# Per account and client address: LOGIN_MAX_FAILURES in LOGIN_WINDOW_SECONDS; per
# account from all addresses together: LOGIN_MAX_FAILURES_PER_ACCOUNT.
LOGIN_MAX_FAILURES = _env_int("LOGIN_MAX_FAILURES", 10, minimum=1)
LOGIN_MAX_FAILURES_PER_ACCOUNT = _env_int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 100, minimum=1)
LOGIN_WINDOW_SECONDS = _env_int("LOGIN_WINDOW_SECONDS", 900, minimum=1)
# Login, signup, refreshToken, changePassword and deleteAccount per client address
# (an IPv6 address counts with its /64) and minute, checked before any bcrypt work.
AUTH_MAX_PER_ADDRESS_PER_MINUTE = _env_int("AUTH_MAX_PER_ADDRESS_PER_MINUTE", 20, minimum=1)

# The server behind `make run` (config/serve.py): one worker process per core
# (each has its own GIL), a few threads each to overlap database and bcrypt waits.
SERVER_WORKERS = _env_int("WORKERS", os.cpu_count() or 1, minimum=1, maximum=64)
SERVER_THREADS = _env_int("THREADS", 4, minimum=1, maximum=64)
# A client must send its whole request head within this (granian allows 1-60 s);
# an idle kept-alive connection is closed after it too.
HEADER_READ_TIMEOUT_SECONDS = _env_int("HEADER_READ_TIMEOUT_SECONDS", 10, minimum=1, maximum=60)
# ... and its whole body within this, else 408 (a legal 8 MiB body at 2 Mbit/s fits).
BODY_READ_TIMEOUT_SECONDS = _env_int("BODY_READ_TIMEOUT_SECONDS", 30, minimum=1, maximum=600)
# SIGTERM: requests in flight get this long to finish before workers are killed.
GRACEFUL_TIMEOUT_SECONDS = _env_int("GRACEFUL_TIMEOUT_SECONDS", 20, minimum=1, maximum=1800)
# SIGTERM: /readyz answers 503 for this long while connections are still taken,
# so a load balancer polling it stops sending traffic before they are refused.
DRAIN_DELAY_SECONDS = _env_int("DRAIN_DELAY_SECONDS", 0, minimum=0, maximum=300)
# Bytes of large responses a worker has handed to granian that their clients have not
# read yet; past it, a large response is a retryable 503 (config/bridge.py and
# docs/adr/0023-slow-readers.md).
RESPONSE_BUFFER_MAX_BYTES = _env_int(
    "RESPONSE_BUFFER_MAX_BYTES", 256 * 1024 * 1024, minimum=1024 * 1024
)
