"""Cross-family tasks: the no-op used as the latency floor, and the self-check canvas steps."""

from __future__ import annotations

from domain.common.selfcheck import selfcheck_prune, selfcheck_record
from orchestrator.taskkit import regatta_task


@regatta_task("common.ping")
def ping(self) -> str:
    return "pong"


@regatta_task("common.echo")
def echo(self, value: int) -> int:
    return value


@regatta_task("common.add")
def add(self, value: int, addend: int) -> int:
    return value + addend


@regatta_task("common.record_selfcheck")
def record_selfcheck(self, values: int | list[int], nonce: str) -> int:
    total = sum(values) if isinstance(values, list) else values
    selfcheck_record(nonce=nonce, total=total)
    return total


@regatta_task("common.prune_selfchecks")
def prune_selfchecks(self) -> int:
    return selfcheck_prune()
