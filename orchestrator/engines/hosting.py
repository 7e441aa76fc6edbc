"""A worker that consumes the `executions` queue makes its machine a host of executions.

At start it also consumes its host's own queue (`executions.host.<name>`: launches and stops of
the executions whose slots it holds), registers what the host offers, and keeps saying it is
alive from a thread of the main process, so dispatch gives it slots only while it is up.
"""

from __future__ import annotations

import logging
import os
import threading

from celery.signals import celeryd_after_setup, worker_ready, worker_shutting_down

from domain.common.env import env_str
from domain.executions import conf
from domain.executions.hosts import host_heartbeat, host_register
from orchestrator.engines import engine_named, is_host_engine

logger = logging.getLogger(__name__)
_stop = threading.Event()
_serving: dict[str, bool] = {"on": False}


def host_clusters() -> list[str]:
    """The clusters this host runs: `EXECUTIONS_HOST_CLUSTERS` (comma-separated), else every
    cluster whose engine runs on hosts."""
    wanted = [c.strip() for c in env_str("EXECUTIONS_HOST_CLUSTERS").split(",") if c.strip()]
    names = wanted or conf.cluster_names()
    return [name for name in names if is_host_engine(conf.cluster_engine(name))]


def _consumes_executions(app) -> bool:
    selected = app.amqp.queues.consume_from
    return selected is None or "executions" in selected


@celeryd_after_setup.connect
def _add_host_queue(sender, instance, **kwargs) -> None:
    app = instance.app
    if not _consumes_executions(app) or not host_clusters():
        return
    queue = conf.host_queue(conf.host_name())
    app.amqp.queues.select_add(queue)
    _serving["on"] = True
    logger.info("serving executions of %s on queue %s", ", ".join(host_clusters()), queue)


@worker_ready.connect
def _register_host(sender, **kwargs) -> None:
    if not _serving["on"]:
        return
    host_register_now()
    threading.Thread(target=_beat, name="executions-host-heartbeat", daemon=True).start()


@worker_shutting_down.connect
def _stop_beating(**kwargs) -> None:
    _stop.set()


def serves_queue(queue: str) -> bool:
    """Whether this process is a worker of the host whose launch queue is `queue`."""
    return _serving["on"] and queue == conf.host_queue(conf.host_name())


def host_register_now() -> None:
    capacity = engine_named("local").capacity()
    host_register(
        name=conf.host_name(),
        queue=conf.host_queue(conf.host_name()),
        clusters=host_clusters(),
        slots=capacity.slots,
        cpus=capacity.cpus,
        mem_mb=capacity.mem_mb,
        disk_mb=capacity.disk_mb,
        gpus=capacity.gpus,
    )


def _beat() -> None:
    from django.db import close_old_connections

    while not _stop.wait(conf.HOST_HEARTBEAT_INTERVAL):
        reap_adopted_children()
        try:
            if not host_heartbeat(name=conf.host_name()):
                host_register_now()
        except Exception:  # noqa: BLE001 (a database blip must not end the heartbeat)
            logger.warning("host heartbeat failed", exc_info=True)
        finally:
            close_old_connections()


def reap_adopted_children() -> int:
    """Reap the exited children of this process that live in another session. Supervisors
    detach from the worker, so when they (or a command's leftovers) end, their parent is the
    namespace's init; when the worker is that init (a container without one, `docker run`
    without `--init`), nobody else would ever reap them and each run would leave a zombie. The
    pool's own processes share the worker's session and stay billiard's to reap."""
    me, session = os.getpid(), os.getsid(0)
    reaped = 0
    for pid in _zombie_children(me):
        try:
            if os.getsid(pid) == session:
                continue
            os.waitpid(pid, os.WNOHANG)
            reaped += 1
        except (ChildProcessError, ProcessLookupError):
            continue
    return reaped


def _zombie_children(parent: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        state, ppid = stat[stat.rindex(b")") + 2 :].split()[:2]
        if state == b"Z" and int(ppid) == parent:
            found.append(int(entry.name))
    return found
