"""What a Job, its pods and their events say about an execution (Flotilla's status worker,
spec B.6): the Job decides whether it has ended, the newest pod says how.

    no Job                                   → MISSING (the sweep decides what that means)
    Job Failed / FailureTarget               → ENDED, the container's exit code (else 1) and why
    Job Complete / SuccessCriteriaMet        → ENDED, exit 0
    otherwise the newest pod: Pending        → PENDING
                              Running/Unknown → RUNNING
                              Succeeded/Failed → ENDED (the Job controller has not caught up)
    no pod yet: Job active → RUNNING, else   → PENDING

Reads client models only (kubernetes.client V1Job, V1Pod, CoreV1Event): no API calls here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from orchestrator.engines.base import Exit, RemoteStatus
from orchestrator.engines.kubernetes_manifest import CONTAINER

FAILED = ("Failed", "FailureTarget")
SUCCEEDED = ("Complete", "SuccessCriteriaMet")
MAX_MESSAGE = 500


def remote_status(job: Any | None, pods: list[Any], events: list[Any]) -> RemoteStatus:
    if job is None:
        return RemoteStatus(state="MISSING")
    pod = newest_pod(pods)
    container = _container_status(pod)
    common = {
        "started_at": _started_at(pod, container),
        "ref": _pod_ref(pod, events),
        "events": event_dicts(events),
    }
    failed = _condition(job, FAILED)
    if failed is not None or (job.status and job.status.failed):
        exit_ = _failure_exit(job, pod, container, failed)
        return RemoteStatus("ENDED", exit_, finished_at=_finished_at(job, container), **common)
    if _condition(job, SUCCEEDED) is not None or (job.status and job.status.succeeded):
        exit_ = Exit(exit_code=0, reason=_success_reason(job, pod))
        return RemoteStatus("ENDED", exit_, finished_at=_finished_at(job, container), **common)
    return _from_pod(job, pod, container, common)


def _from_pod(job: Any, pod: Any | None, container: Any | None, common: dict) -> RemoteStatus:
    phase = pod.status.phase if pod is not None and pod.status else None
    if phase == "Succeeded":
        exit_ = Exit(exit_code=0, reason=_success_reason(job, pod))
        return RemoteStatus("ENDED", exit_, finished_at=_finished_at(job, container), **common)
    if phase == "Failed":
        exit_ = _failure_exit(job, pod, container, None)
        return RemoteStatus("ENDED", exit_, finished_at=_finished_at(job, container), **common)
    if phase in ("Running", "Unknown"):
        return RemoteStatus("RUNNING", **common)
    if phase is None and job.status and job.status.active:
        return RemoteStatus("RUNNING", **common)
    return RemoteStatus("PENDING", **common)


def newest_pod(pods: list[Any]) -> Any | None:
    """The Job's latest attempt."""
    ordered = pods_newest_first(pods)
    return ordered[0] if ordered else None


def pods_newest_first(pods: list[Any]) -> list[Any]:
    """By creation time, then name (Kubernetes' timestamps have whole seconds)."""
    return sorted(
        pods,
        key=lambda pod: (_naive(pod.metadata.creation_timestamp), pod.metadata.name),
        reverse=True,
    )


def _failure_exit(job: Any, pod: Any | None, container: Any | None, condition: Any) -> Exit:
    terminated = _terminated(container)
    exit_code = terminated.exit_code if terminated is not None else 1
    if condition is not None and condition.reason == "DeadlineExceeded":
        seconds = job.spec.active_deadline_seconds if job.spec else None
        reason = f"JobRun exceeded specified timeout of {seconds} seconds (DeadlineExceeded)"
        return Exit(exit_code=exit_code, reason=reason, timed_out=True)
    if terminated is not None and terminated.reason == "OOMKilled":
        reason = "OOMKilled: the command exceeded its memory limit"
        return Exit(exit_code=exit_code, oom=True, signal=terminated.signal, reason=reason)
    reason = _failure_reason(job, pod, terminated, condition)
    return Exit(exit_code=exit_code, signal=_signal(terminated), reason=reason)


def _failure_reason(job: Any, pod: Any | None, terminated: Any, condition: Any) -> str:
    if terminated is not None:
        why = terminated.reason or "Error"
        detail = f": {_short(terminated.message)}" if terminated.message else ""
        return f"Pod {pod.metadata.name} exited with code {terminated.exit_code} ({why}){detail}"
    if pod is not None and pod.status and (pod.status.reason or pod.status.message):
        return _joined(f"Pod {pod.metadata.name} failed:", pod.status.reason, pod.status.message)
    if condition is not None:
        return _joined(f"Job {job.metadata.name} failed:", condition.reason, condition.message)
    return f"Job {job.metadata.name} failed"


def _joined(head: str, reason: str | None, message: str | None) -> str:
    return " ".join(part for part in (head, reason, _short(message or "")) if part)


def _success_reason(job: Any, pod: Any | None) -> str:
    if pod is None:
        return f"Job {job.metadata.name} completed"
    # Flotilla's wording, which its users search their runs for.
    return f"Pod {pod.metadata.name} Exited Successfully"


def _signal(terminated: Any) -> int | None:
    return terminated.signal if terminated is not None and terminated.signal else None


def _condition(job: Any, types: tuple[str, ...]) -> Any | None:
    conditions = (job.status.conditions if job.status else None) or []
    for condition in conditions:
        if condition.type in types and condition.status == "True":
            return condition
    return None


def _container_status(pod: Any | None) -> Any | None:
    statuses = (pod.status.container_statuses if pod is not None and pod.status else None) or []
    for status in statuses:
        if status.name == CONTAINER:
            return status
    return statuses[0] if statuses else None


def _terminated(container: Any | None) -> Any | None:
    if container is None:
        return None
    if container.state is not None and container.state.terminated is not None:
        return container.state.terminated
    return None


def _started_at(pod: Any | None, container: Any | None) -> datetime | None:
    """When the command started: the container's start, else the pod's."""
    state = container.state if container is not None else None
    for moment in (
        state.running.started_at if state is not None and state.running else None,
        state.terminated.started_at if state is not None and state.terminated else None,
        pod.status.start_time if pod is not None and pod.status else None,
    ):
        if moment is not None:
            return moment
    return None


def _finished_at(job: Any, container: Any | None) -> datetime | None:
    terminated = _terminated(container)
    if terminated is not None and terminated.finished_at is not None:
        return terminated.finished_at
    if job.status and job.status.completion_time:
        return job.status.completion_time
    ended = _condition(job, FAILED + SUCCEEDED)
    return ended.last_transition_time if ended is not None else None


def _pod_ref(pod: Any | None, events: list[Any]) -> dict:
    if pod is None:
        return {}
    ref: dict = {"pod_name": pod.metadata.name}
    if pod.spec is not None and pod.spec.node_name:
        ref["node_name"] = pod.spec.node_name
    # Flotilla counts an attempt each time the scheduler placed one of the Job's pods.
    ref["attempt_count"] = sum(1 for event in events if event.reason == "Scheduled")
    return ref


def event_dicts(events: list[Any]) -> list[dict]:
    """Events oldest first, in Flotilla's pod_events shape. Of events in the same second, the
    Job's come first: its controller acts (a deadline) and the pods follow (killed)."""
    ordered = sorted(events, key=_event_order)
    return [
        {
            "timestamp": _iso(_event_time(event)),
            "event_type": event.type or "",
            "reason": event.reason or "",
            "source_object": event.involved_object.name if event.involved_object else "",
            "message": _short(event.message or ""),
        }
        for event in ordered
    ]


def _event_order(event: Any) -> tuple:
    kind = event.involved_object.kind if event.involved_object else ""
    name = event.metadata.name if event.metadata else ""
    return (_naive(_event_time(event)), kind != "Job", name or "")


def _event_time(event: Any) -> datetime | None:
    return (
        event.last_timestamp
        or event.event_time
        or event.first_timestamp
        or (event.metadata.creation_timestamp if event.metadata else None)
    )


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


def _naive(moment: datetime | None) -> datetime:
    """Comparable whatever its zone (the client gives aware UTC datetimes)."""
    if moment is None:
        return datetime.min
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _short(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
