"""Environment-driven configuration shared by Django settings, Celery and the supervisor.

Nothing here imports Django: celeryconfig.py and deploy/run.py use it before Django is set up.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from urllib.parse import urlparse

from domain.common.env import env_float, env_int, env_str

BASE_DIR = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Where the embedded default keeps SQLite, the Redis socket, beat state and the secret key."""
    path = Path(env_str("REGATTA_DATA_DIR", str(BASE_DIR / "var")))
    return path if path.is_absolute() else (BASE_DIR / path)


def embedded_redis_socket() -> Path:
    return data_dir() / "redis.sock"


def uses_embedded_redis() -> bool:
    return not (env_str("REDIS_URL") or env_str("CELERY_BROKER_URL"))


def redis_url() -> str:
    """The Redis URL for our own clients (rate limits, locks, health): redis://… or unix://…"""
    explicit = env_str("REDIS_URL")
    if explicit:
        return explicit
    broker = env_str("CELERY_BROKER_URL")
    if broker:
        return to_redis_client_url(broker)
    return f"unix://{embedded_redis_socket()}"


def to_redis_client_url(url: str) -> str:
    """Celery spells a unix socket `redis+socket://`; redis-py spells it `unix://`."""
    if url.startswith("redis+socket://"):
        return "unix://" + url[len("redis+socket://") :]
    return url


def to_celery_url(url: str) -> str:
    if url.startswith("unix://"):
        return "redis+socket://" + url[len("unix://") :]
    return url


def broker_url() -> str:
    return to_celery_url(env_str("CELERY_BROKER_URL") or redis_url())


def result_backend_url() -> str:
    return to_celery_url(env_str("CELERY_RESULT_BACKEND") or redis_url())


def database_url() -> str:
    return env_str("DATABASE_URL") or f"sqlite:///{data_dir() / 'regatta.sqlite3'}"


def uses_sqlite() -> bool:
    return urlparse(database_url()).scheme.startswith("sqlite")


# Set by deploy/gunicorn.conf.py in the master, so every web worker inherits it.
WEB_PROCESS_ENV = "REGATTA_WEB_PROCESS"


def is_web_process() -> bool:
    """A gunicorn worker: it serves requests and never forks after opening a connection."""
    return env_str(WEB_PROCESS_ENV) == "1"


def env_networks(name: str) -> list[IPv4Network | IPv6Network]:
    """Comma-separated CIDRs (a bare address is one host). A typo fails the start, naming the
    setting, rather than silently allowing nothing or everything."""
    parts = [p.strip() for p in env_str(name).split(",") if p.strip()]
    try:
        return [ip_network(p, strict=False) for p in parts]
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc


# Outbound HTTP and the broker: read here (not in Django settings alone) because celeryconfig.py
# checks them against each other before Django is set up.
def outbound_timeout() -> float:
    return env_float("OUTBOUND_TIMEOUT", 15.0)


def outbound_retries() -> int:
    return env_int("OUTBOUND_RETRIES", 2)


def visibility_timeout() -> int:
    return env_int("CELERY_VISIBILITY_TIMEOUT", 600)


def beat_entries_only(schedule: dict[str, dict], only: str) -> dict[str, dict]:
    """The entries of `schedule` that `only` names: comma-separated entry names, or family
    prefixes ending in "." (`releases.`); an empty `only` keeps every entry. A name that selects
    nothing fails the start rather than leaving a beat that silently runs no sweep."""
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    if not wanted:
        return dict(schedule)

    def selects(want: str, name: str) -> bool:
        return name.startswith(want) if want.endswith(".") else name == want

    unknown = [w for w in wanted if not any(selects(w, name) for name in schedule)]
    if unknown:
        raise ValueError(
            f"REGATTA_BEAT_ONLY: {', '.join(unknown)} selects no beat entry; "
            f"the entries are {', '.join(sorted(schedule))}"
        )
    return {n: e for n, e in schedule.items() if any(selects(w, n) for w in wanted)}
