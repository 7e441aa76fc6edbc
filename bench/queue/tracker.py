"""What both modes of bench/queue do over HTTP and in the bench: actors, loads, client pools,
the bulk's rows, and the drain's report."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable

import requests

from bench.cpu import Meter

# Context, not a denominator: the original Go server driven by this bench's own drain client
# drained at about 0.26 x this bench's direct-SQL floor (issue 11, same kind of machine).
ORIGINAL_DRAIN_VS_FLOOR = 0.26


def actors(url: str, name: str) -> tuple[dict, int, requests.Session]:
    """A worker with submit access on a public project with unlimited rates."""
    manager = requests.Session()
    credentials = json.dumps({"username": "bench", "password": "benchbench"})
    if not manager.post(url + "/register", data=credentials).json()["ok"]:
        manager.post(url + "/login", data=credentials)
    body = {"name": name, "public": True, "assign_rate": 0, "submit_rate": 0}
    project = manager.post(url + "/project/create", data=json.dumps(body)).json()["content"]["id"]
    worker = new_worker(url, "bench")
    headers = {"X-Worker-Id": str(worker["id"]), "X-Secret": worker["secret"]}
    requests.post(
        url + "/project/request_access",
        data=json.dumps({"assign": True, "submit": True, "project": project}),
        headers=headers,
    )
    manager.post(f"{url}/project/accept_request/{project}/{worker['id']}")
    return worker, project, manager


def new_worker(url: str, alias: str = "drone") -> dict:
    body = json.dumps({"alias": alias})
    return requests.post(url + "/worker/create", data=body).json()["content"]["worker"]


def load(url: str, worker: dict, project: int, count: int) -> None:
    headers = {"X-Worker-Id": str(worker["id"]), "X-Secret": worker["secret"]}
    items = [{"project": project, "recipe": f"task {i}", "priority": i % 5} for i in range(count)]
    reply = requests.post(
        url + "/task/bulk_submit", data=json.dumps({"requests": items}), headers=headers
    )
    assert reply.json()["content"]["inserted"] == count, reply.text


def timed(meter: Meter, name: str, action: Callable[[], int]) -> tuple[float, int]:
    """Run `action` as phase `name` of the meter; (seconds, what it returned)."""
    meter.start()
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    meter.phase(name, elapsed)
    return elapsed, result


def drain_phase(meter: Meter, name: str, target, args_list: list[tuple]) -> tuple[float, int]:
    """The clients' drain as phase `name`, timed from their common start; (seconds, closed)."""
    meter.start()
    elapsed, closed = run_clients(target, args_list)
    meter.phase(name, elapsed)
    return elapsed, closed


def run_clients(target, args_list: list[tuple]) -> tuple[float, int]:
    """`target(*args, start_at)` in one process per args, all starting at once; (seconds, sum)."""
    ctx = multiprocessing.get_context("fork")
    start_at = time.time() + 1.0
    with ctx.Pool(len(args_list)) as pool:
        results = pool.starmap_async(target, [(*a, start_at) for a in args_list])
        closed = sum(results.get(timeout=3600))
    return time.time() - start_at, closed


def bulk_items(project: int, count: int) -> list[dict]:
    return [
        {"project": project, "recipe": f"bulk task {i}", "priority": i % 5, "hash_u64": i + 1}
        for i in range(count)
    ]


def bulk_rows(items: list[dict]):
    """The rows the service writes for `items` (domain's NewTaskBatch), for the direct floors."""
    from domain.tracker.queue import NewTaskBatch, SubmitRequest

    reqs = [
        SubmitRequest(it["project"], 0, it["recipe"], it["priority"], 0, it["hash_u64"], "", 1)
        for it in items
    ]
    return NewTaskBatch(reqs)


def bulk_submit(url: str, worker: dict, payload: bytes) -> int:
    headers = {"X-Worker-Id": str(worker["id"]), "X-Secret": worker["secret"]}
    reply = requests.post(url + "/task/bulk_submit", data=payload, headers=headers, timeout=600)
    return reply.json()["content"]["inserted"]


def print_drain(
    meter: Meter, *, tasks: int, server: str, rates: tuple[float, float], floor: str, db: str | None
) -> None:
    """The drain's rates, ratio and CPU per task; `db` is the group the database work is in
    besides the web (PostgreSQL's server), None when it runs inside the web (SQLite)."""
    drain_cpu, floor_cpu = meter.phases["drain HTTP"], meter.phases["drain SQL floor"]
    http_rate, sql_rate = rates
    print(f"drain: {tasks} tasks, {server}")
    print(f"  HTTP get+release    {http_rate:9.1f} tasks/s   {Meter.format(drain_cpu)}")
    print(f"  {floor:<19} {sql_rate:9.1f} tasks/s   {Meter.format(floor_cpu)}")
    # The targets and the original's position are PostgreSQL's (issue 11).
    context = (
        f"   (target >= 0.40; original ~{ORIGINAL_DRAIN_VS_FLOOR} x floor with this client, "
        "measured on the same kind of machine (issue 11))"
    )
    print(f"  ratio HTTP/floor    {http_rate / sql_rate:9.2f}{context if db else ''}")

    def ms(spent: dict[str, float], group: str) -> str:
        return f"{spent[group] * 1000 / tasks:.2f} ms"

    # On PostgreSQL the database work is the server's; on SQLite it runs inside the web
    # processes, and in the floor inside its clients.
    where = f"{db} {ms(drain_cpu, db)} (floor {ms(floor_cpu, db)}), " if db else ""
    floor_clients = "" if db else f"; floor clients {ms(floor_cpu, 'clients')}"
    print(
        f"  per task: web {ms(drain_cpu, 'web')} CPU "
        f"({drain_cpu['web'] * 1000 / (2 * tasks):.2f} ms per request, 2 requests), "
        f"{where}clients {ms(drain_cpu, 'clients')}{floor_clients}"
        + ("   (target web <= 1.3 ms per task)" if db else "")
    )


def print_bulk(meter: Meter, *, count: int, rates: tuple[float, float], floor: str) -> None:
    bulk_cpu, floor_cpu = meter.phases["bulk HTTP"], meter.phases["bulk floor"]
    bulk_rate, floor_rate = rates
    print(f"bulk submit: {count} tasks with distinct hash_u64")
    print(f"  /task/bulk_submit   {bulk_rate:9.0f} tasks/s   {Meter.format(bulk_cpu)}")
    print(f"  {floor:<19} {floor_rate:9.0f} tasks/s   {Meter.format(floor_cpu)}")
    print(f"  ratio bulk/floor    {bulk_rate / floor_rate:9.2f}   (target >= 0.9 on PostgreSQL)")
    print(f"  per 1,000 tasks: web {bulk_cpu['web'] * 1e6 / count:.1f} ms CPU")
