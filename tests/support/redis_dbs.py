"""Which Redis db a part of the suite uses (no side effects: child processes import this too).

Each pytest-xdist worker has three dbs, counted down from the suite's (see env_defaults.py).
"""

from __future__ import annotations

from urllib.parse import urlparse, urlunparse

REDIS_DBS_PER_WORKER = 3


def redis_db(url: str) -> int:
    """The Redis db number `url` names (0 when it names none)."""
    return int(urlparse(url).path.strip("/") or 0)


def redis_db_moved(url: str, offset: int) -> str:
    """`url` with its Redis db number moved by `offset`, within Redis's 16 dbs."""
    return urlunparse(urlparse(url)._replace(path=f"/{(redis_db(url) + offset) % 16}"))


def redis_url_of_worker(url: str, worker: str) -> str:
    """The suite's Redis URL for xdist worker `gwN`: its db moved down by N × 3."""
    offset = -REDIS_DBS_PER_WORKER * int(worker.removeprefix("gw"))
    if redis_db(url) + offset < 0:
        raise SystemExit(
            f"xdist worker {worker} has no Redis db left below {url}: use fewer workers "
            f"(-n) or a REDIS_URL with a higher db"
        )
    return redis_db_moved(url, offset)
