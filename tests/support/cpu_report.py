"""CPU-seconds per test file, for finding what makes the suite slow on a saturated machine.

`REGATTA_TEST_CPU=path make test` appends one JSON line per test to `path` and prints the files
that took the most CPU at the end. A test's CPU is its pytest process's plus that of every child
process it started and waited for (web servers, Celery workers and their pool processes, drain
clients); PostgreSQL's and Redis's are not in it. Wall time on a saturated machine says little:
every file is slowed by whichever others run beside it.
"""

from __future__ import annotations

import json
import os
import resource
from collections import defaultdict
from pathlib import Path

import pytest

ENV = "REGATTA_TEST_CPU"
SHOWN = 25


def _cpu_seconds() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    path = os.environ.get(ENV)
    if not path:
        yield
        return
    before = _cpu_seconds()
    yield
    line = {"file": item.location[0], "test": item.nodeid, "cpu": _cpu_seconds() - before}
    with open(path, "a") as out:
        out.write(json.dumps(line) + "\n")


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    path = os.environ.get(ENV)
    if not path or hasattr(config, "workerinput") or not Path(path).exists():
        return
    per_file: dict[str, float] = defaultdict(float)
    for line in Path(path).read_text().splitlines():
        row = json.loads(line)
        per_file[row["file"]] += row["cpu"]
    total = sum(per_file.values())
    terminalreporter.section(f"CPU-seconds per test file (of {total:.0f} in all, from {path})")
    for name, seconds in sorted(per_file.items(), key=lambda kv: -kv[1])[:SHOWN]:
        terminalreporter.write_line(f"{seconds:8.1f}  {100 * seconds / total:5.1f} %  {name}")
