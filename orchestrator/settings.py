"""Django settings. Every knob comes from the environment; README.md lists them all."""

from __future__ import annotations

import re
import secrets

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from domain.common.env import env_bool, env_float, env_int, env_str
from domain.common.secretfile import private_file_write
from orchestrator import batch_limits, config

BASE_DIR = config.BASE_DIR
DATA_DIR = config.data_dir()


def _secret_key() -> str:
    """A stable key without configuration: generated once into the data directory."""
    explicit = env_str("DJANGO_SECRET_KEY")
    if explicit:
        return explicit
    path = DATA_DIR / "secret_key"
    if not path.exists():
        # 0600 before the key is in it; of processes starting at once, the first file wins.
        private_file_write(path, secrets.token_urlsafe(50), replace=False)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_str("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in env_str("CSRF_TRUSTED_ORIGINS").split(",") if o]

INSTALLED_APPS = [
    # The operator console at /admin/ (staff only): domain/*/admin.py.
    "django.contrib.admin",
    "django.contrib.messages",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "ninja",
    "domain.common",
    "domain.releases",
    "domain.tracker",
    "domain.executions",
    "domain.jobs",
    "domain.runs",
    # Last: its ready() registers the tasks and the step handlers (orchestrator/apps.py).
    "orchestrator.apps.OrchestratorConfig",
]
# The test suite's own small models (tests/support/testapp); never set in production.
if env_bool("REGATTA_TEST_APPS"):
    INSTALLED_APPS.append("tests.support.testapp")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's own three, skipped for the routes that authenticate by header only
    # (orchestrator/middleware.py).
    "orchestrator.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "orchestrator.middleware.AuthenticationMiddleware",
    "orchestrator.middleware.MessageMiddleware",
]

ROOT_URLCONF = "orchestrator.urls"
WSGI_APPLICATION = "orchestrator.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]


def _database() -> dict:
    db = dj_database_url.parse(config.database_url(), conn_max_age=60, conn_health_checks=True)
    if db["ENGINE"] == "django.db.backends.postgresql":
        db["ENGINE"] = "orchestrator.postgres"
    if db["ENGINE"] == "django.db.backends.sqlite3":
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        # IMMEDIATE takes the write lock at BEGIN, so two processes never deadlock upgrading a
        # read lock; WAL lets readers proceed while one writer holds it.
        # A SQLite connection must not cross a fork, and Celery workers fork (pool processes,
        # run supervisors): there a request's connection is closed after it. A web worker never
        # forks, so it keeps its connection between requests (a new one, with its pragmas and
        # Django's SQL functions, cost 2.7 ms of web CPU per request in bench.queue's drain).
        db["CONN_MAX_AGE"] = 60 if config.is_web_process() else 0
        db["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return db


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# Serve the bundled Swagger/ReDoc assets straight from the installed packages: no collectstatic
# step and no external CDN.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

REDIS_URL = config.redis_url()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"frequent_sweeps": {"()": "orchestrator.logfilters.FrequentSweeps"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["frequent_sweeps"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- Regatta ---------------------------------------------------------------------------------
# Public base URL used to build hyperlinks in the releases family; empty means "from the request".
REGATTA_PUBLIC_URL = env_str("REGATTA_PUBLIC_URL")
# How long /healthz waits for a worker to answer a ping.
HEALTHZ_WORKER_TIMEOUT = env_float("HEALTHZ_WORKER_TIMEOUT", 1.0)
# Seconds every web process reuses the last worker ping (in Redis), so /healthz holds no web
# worker for a ping on each call; 0 pings on every call.
HEALTHZ_CACHE_SECONDS = env_float("HEALTHZ_CACHE_SECONDS", 5.0)
# A "down" answer is shared for less time, so a service that has just come up (`make run`, a
# rolling deploy) is seen healthy within a second rather than a whole cache period.
HEALTHZ_DOWN_CACHE_SECONDS = env_float("HEALTHZ_DOWN_CACHE_SECONDS", 1.0)
# Outbound HTTP (task services, dataservice, JWKS): one total deadline per call, in seconds.
OUTBOUND_TIMEOUT = config.outbound_timeout()
# Retries after the first attempt of a transient failure: 2 = 3 attempts in all, 0 = fail at once.
OUTBOUND_RETRIES = config.outbound_retries()
# Loopback/private/link-local/… addresses are refused (SSRF) unless one of these CIDRs holds them.
OUTBOUND_ALLOWED_NETWORKS = config.env_networks("OUTBOUND_ALLOWED_NETWORKS")
# Bytes of one answer we read at most: a huge body must not fill a worker's memory.
OUTBOUND_MAX_RESPONSE_BYTES = env_int("OUTBOUND_MAX_RESPONSE_BYTES", 1024 * 1024)
# A batch must end before the broker redelivers its message: refuse to start otherwise.
batch_limits.check_visibility_timeout()

# --- OIDC bearer JWTs (optional) ---------------------------------------------------------------
# The original's users authenticate with RS256 JWTs from an OIDC provider (Auth0). Unset JWKS URL:
# JWTs are not accepted at all and every bearer value is looked up as an API token.
OIDC_JWKS_URL = env_str("OIDC_JWKS_URL")
# Both are required with a JWKS URL: the original checked no audience, so a (machine) token its
# tenant issued for another API was accepted too, as an admin.
OIDC_ISSUER = env_str("OIDC_ISSUER")
OIDC_AUDIENCE = env_str("OIDC_AUDIENCE")
if OIDC_JWKS_URL and not (OIDC_ISSUER and OIDC_AUDIENCE):
    raise ImproperlyConfigured(
        "OIDC_JWKS_URL is set, so OIDC_ISSUER and OIDC_AUDIENCE must be set too: without them a "
        "token the provider issued for any other API would be accepted here"
    )
OIDC_ROLES_CLAIM = env_str("OIDC_ROLES_CLAIM", "https://kidsfirstdrc.org/roles")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "https://kidsfirstdrc.org/groups")
# Seconds a fetched key set is trusted before it is fetched again (an unknown kid refetches sooner).
OIDC_JWKS_CACHE_SECONDS = env_float("OIDC_JWKS_CACHE_SECONDS", 3600.0)

# --- HTTPS -------------------------------------------------------------------------------------
# Behind TLS, cookies must never travel in clear and browsers should not try plain HTTP again.
REGATTA_HTTPS = env_bool("REGATTA_HTTPS", False)
SESSION_COOKIE_SECURE = REGATTA_HTTPS
CSRF_COOKIE_SECURE = REGATTA_HTTPS
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31536000) if REGATTA_HTTPS else 0


def _proxy_ssl_header() -> tuple[str, str] | None:
    """Opt-in only: trusting a header a client can send itself makes plain HTTP look like TLS."""
    name = env_str("SECURE_PROXY_SSL_HEADER")
    if not name:
        return None
    if not re.fullmatch(r"[A-Za-z0-9-]+", name):
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER must be a header name such as X-Forwarded-Proto: {name!r}"
        )
    return ("HTTP_" + name.upper().replace("-", "_"), "https")


SECURE_PROXY_SSL_HEADER = _proxy_ssl_header()
