"""Django settings, read from the environment (see the README's configuration table)."""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.local_secrets import load_local_secrets
from observability.logs import LOG_FORMATS, logging_config

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


def _env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
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
JWT_LIFETIME_SECONDS = _env_int("JWT_LIFETIME_SECONDS", 3600, minimum=60)
JWT_ISSUER = os.environ.get("JWT_ISSUER", "posts-api")

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'posts.sqlite3'}"
# Seconds a request waits for a database connection or lock before failing.
DATABASE_TIMEOUT_SECONDS = _env_int("DATABASE_TIMEOUT_SECONDS", 5, minimum=1)
# Seconds a MySQL query may wait for the server's answer before the request fails
# (a server that went silent costs a request at most this plus the connect timeout).
DATABASE_QUERY_TIMEOUT_SECONDS = _env_int("DATABASE_QUERY_TIMEOUT_SECONDS", 10, minimum=1)

BCRYPT_ROUNDS = _env_int("BCRYPT_ROUNDS", 12, minimum=4)

POSTS_CACHE_TTL_SECONDS = _env_int("POSTS_CACHE_TTL_SECONDS", 300)
POSTS_CACHE_MAX_BYTES = _env_int("POSTS_CACHE_MAX_BYTES", 64 * 1024 * 1024)

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
    "django.contrib.staticfiles",
    "corsheaders",
]

MIDDLEWARE = [
    # First: the request id reaches every response (413 and 500 included) and log line.
    "observability.middleware.RequestObservabilityMiddleware",
    "gql.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
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

STATIC_URL = "static/"
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

# GraphQL document limits (per request document).
GRAPHQL_MAX_DEPTH = _env_int("GRAPHQL_MAX_DEPTH", 8, minimum=2)
GRAPHQL_MAX_ALIASES = _env_int("GRAPHQL_MAX_ALIASES", 15, minimum=0)
GRAPHQL_MAX_TOKENS = _env_int("GRAPHQL_MAX_TOKENS", 1000, minimum=50)

# Failed-login throttling, shared through the database by every worker and instance.
# Per account and client address: LOGIN_MAX_FAILURES in LOGIN_WINDOW_SECONDS; per
# account from all addresses together: LOGIN_MAX_FAILURES_PER_ACCOUNT.
LOGIN_MAX_FAILURES = _env_int("LOGIN_MAX_FAILURES", 10, minimum=1)
LOGIN_MAX_FAILURES_PER_ACCOUNT = _env_int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 100, minimum=1)
LOGIN_WINDOW_SECONDS = _env_int("LOGIN_WINDOW_SECONDS", 900, minimum=1)
