"""The docker engine: the command runs in a container of the definition's image, on this host's
dockerd, through the Docker Engine API (the `docker` SDK).

One container per execution, named `regatta-<execution id>` and labelled
`regatta.execution=<id>`, running `<shell> -cex "<command>"` as Flotilla does (`bash` unless the
cluster's `shell` option says `sh`, for images such as busybox that have no bash), its stderr
joined into its stdout unless the owner reads the two apart (`separate_stderr`). The memory
request is both the memory and the memory+swap limit, so going past it is an OOM kill, never
swapping; the CPU request becomes nano_cpus; a pids limit stops fork bombs. By default the
container has no network, runs as nobody (65534:65534) with every capability dropped and
no-new-privileges, under docker's init so a stop's SIGTERM reaches the command. The container is
kept after it exits until `cleanup()`, so `wait()` can read `State.OOMKilled` first.

Cluster options (`EXECUTIONS_CLUSTERS`, docs/engines.md): docker_host, shell, network_mode,
user, pids_limit, api_timeout, slots.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.types import DeviceRequest, DriverConfig
from docker.types import Mount as DockerMount

from domain.common.env import env_int, env_str
from domain.executions import conf
from domain.executions.mounts import Mount, MountRefused, mounts_resolved
from orchestrator.engines.base import (
    Capacity,
    EngineUnavailable,
    Exit,
    LaunchRefused,
    LaunchSpec,
)
from orchestrator.engines.lines import LineSplitter
from orchestrator.engines.scratch import scratch_make, scratch_prepare, scratch_root

logger = logging.getLogger(__name__)

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DEFAULT_USER = "65534:65534"
DEFAULT_NETWORK_MODE = "none"
DEFAULT_API_TIMEOUT = 60.0
SHELLS = ("bash", "sh")
EXECUTION_LABEL = "regatta.execution"
MIB = 1024 * 1024
# dockerd refuses a memory limit under 6 MB; say so before it does, in our words.
MIN_MEM_MB = 6
INT64_MAX = 2**63 - 1
MAX_CPUS = 1_000_000.0
# Execution ids are UUIDs; one that could not stand in a docker name ([a-zA-Z0-9_.-]) is refused.
EXECUTION_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}")
VOLUME_PART = re.compile(r"[a-zA-Z0-9_.-]{1,100}")
# Errors that mean "dockerd cannot be reached or did not answer", as opposed to an answer.
UNREACHABLE = (requests.exceptions.ConnectionError, requests.exceptions.Timeout)
# The Engine API's multiplexed log stream (a container without a tty): each frame is an 8-byte
# header, the stream id in byte 0 (1 stdout, 2 stderr) and the length big-endian in bytes 4-7,
# then that many bytes of the stream.
FRAME_HEADER = struct.Struct(">BxxxL")
STDERR_STREAM = 2
READ_SIZE = 65536


def container_name(execution_id: str) -> str:
    if not EXECUTION_ID.fullmatch(execution_id):
        raise LaunchRefused(f"execution id {execution_id[:200]!r} cannot name a container")
    return f"regatta-{execution_id}"


def docker_host(options: dict) -> str:
    """Where dockerd listens: the cluster's `docker_host`, else DOCKER_HOST, else the socket."""
    return str(options.get("docker_host") or env_str("DOCKER_HOST") or DEFAULT_DOCKER_HOST)


def docker_client(options: dict) -> docker.DockerClient:
    """A fresh client (never one shared across the supervisor's fork). Raises
    EngineUnavailable when dockerd does not answer."""
    base_url = docker_host(options)
    timeout = _api_timeout(options)
    try:
        return docker.DockerClient(base_url=base_url, version="auto", timeout=timeout)
    except DockerException as exc:
        raise EngineUnavailable(f"dockerd at {base_url} does not answer: {exc}") from exc


def _api_timeout(options: dict) -> float:
    value = options.get("api_timeout", DEFAULT_API_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 86400:
        raise LaunchRefused(f"docker engine option api_timeout must be seconds, not {value!r}")
    return float(value)


class DockerEngine:
    name = "docker"

    def __init__(self, options: dict | None = None) -> None:
        # Options for what has no spec to carry them (capacity); a launch uses the spec's.
        self.options = options or {}

    def capacity(self) -> Capacity:
        client = docker_client(self.options)
        try:
            info = _unreachable_is_unavailable(client.info)
        finally:
            client.close()
        return Capacity(
            slots=_positive_int_option(self.options, "slots", conf.host_slots()),
            cpus=float(info.get("NCPU") or 0),
            mem_mb=int(info.get("MemTotal") or 0) // MIB,
            disk_mb=_free_mb(self.options, info.get("DockerRootDir") or ""),
        )

    def start(self, spec: LaunchSpec) -> DockerProcess:
        name = container_name(spec.execution_id)
        client = docker_client(spec.options)
        workdir = scratch_root() / spec.execution_id if spec.prepare else None
        try:
            container = _existing(client, name) or _create(client, name, spec)
            _start_if_created(container)
        except BaseException:
            # Swallows nothing: whatever the daemon or an interrupt raised goes on up, after the
            # client's connection is closed and what the launch made is removed.
            _remove_volumes(client, spec.execution_id)
            client.close()
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
            raise
        return DockerProcess(
            client, container, workdir=workdir, separate_stderr=spec.separate_stderr
        )


def _free_mb(options: dict, path: str) -> int:
    # Only meaningful when dockerd runs on this host (a unix socket): 0 says "unknown".
    if not docker_host(options).startswith("unix://"):
        return 0
    try:
        return shutil.disk_usage(path).free // MIB
    except OSError:
        return 0


def _unreachable_is_unavailable(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except UNREACHABLE as exc:
        raise EngineUnavailable(f"dockerd stopped answering: {exc}") from exc


def _existing(client: docker.DockerClient, name: str) -> Container | None:
    """The container a previous delivery of this launch already made, if any: a redelivered
    launch attaches to it instead of running the command a second time."""
    try:
        return _unreachable_is_unavailable(client.containers.get, name)
    except NotFound:
        return None


def _create(client: docker.DockerClient, name: str, spec: LaunchSpec) -> Container:
    _require_image(client, spec.image)
    args = _container_args(name, spec)
    # Staged last: nothing is written on the host for a spec refused above.
    staged = _staged(spec)
    args["environment"] = _environment([*spec.env, *staged.env])
    args["mounts"] = [*args["mounts"], *staged.mounts]
    try:
        return _unreachable_is_unavailable(client.containers.create, spec.image, **args)
    except APIError as exc:
        if exc.status_code == 409:
            # Another delivery created it between our look-up and our create.
            return client.containers.get(name)
        if exc.is_client_error():
            raise LaunchRefused(f"docker refused the container: {_explain(exc)}") from exc
        raise EngineUnavailable(f"docker could not create the container: {_explain(exc)}") from exc


def _require_image(client: docker.DockerClient, image: str) -> None:
    if not image:
        raise LaunchRefused("the docker engine needs an image, and the definition has none")
    try:
        _unreachable_is_unavailable(client.images.get, image)
    except ImageNotFound as exc:
        # Nothing is pulled: images are provided on the host (docs/engines.md).
        raise LaunchRefused(f"no such image on this docker host: {image}") from exc
    except APIError as exc:
        if exc.is_client_error():
            raise LaunchRefused(f"image {image!r} is unusable: {_explain(exc)}") from exc
        raise EngineUnavailable(f"docker could not look up {image!r}: {_explain(exc)}") from exc


def _container_args(name: str, spec: LaunchSpec) -> dict:
    options = spec.options
    args: dict = {
        "name": name,
        "command": _command(_shell(options), spec.command, joined=not spec.separate_stderr),
        "environment": _environment(spec.env),
        "labels": {**spec.labels, EXECUTION_LABEL: spec.execution_id},
        "user": str(options.get("user") or DEFAULT_USER),
        "network_mode": str(options.get("network_mode") or DEFAULT_NETWORK_MODE),
        "pids_limit": _positive_int_option(
            options, "pids_limit", env_int("EXECUTIONS_PIDS_MAX", 4096)
        ),
        # docker-init as PID 1: it forwards a stop's SIGTERM to the shell and reaps orphans. A
        # shell as PID 1 would ignore SIGTERM (no default action for PID 1) until the SIGKILL.
        "init": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "stdin_open": False,
        "tty": False,
        "detach": True,
        "mounts": _mounts(spec),
    }
    args.update(_limits(spec))
    return args


def _command(shell: str, command: str, *, joined: bool) -> list[str]:
    """`<shell> -cex "<command>"`, `joined`: with its stderr joined to its stdout. Docker keeps
    the two streams apart and their lines can come back out of order (`hi` before `+ echo hi`);
    one pipe keeps the trace where it happened, as Flotilla's combined logs need. The wrapper
    execs, so the shell is the command's process and its exit status and signals are the
    command's. Not joined (an owner that serves stderr apart), the wrapper is the same minus the
    redirection: stderr, the traces among it, stays docker's stderr stream."""
    if "\0" in command:
        raise LaunchRefused("the command contains a NUL byte, which cannot be passed to exec")
    redirect = " 2>&1" if joined else ""
    return [shell, "-c", f'exec "$0" -cex "$1"{redirect}', shell, command]


def _positive_int_option(options: dict, name: str, default: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise LaunchRefused(f"docker engine option {name} must be a whole number, not {value!r}")
    try:
        number = int(value)
    except ValueError as exc:
        raise LaunchRefused(f"docker engine option {name} must be a whole number") from exc
    if not 0 < number <= INT64_MAX:
        raise LaunchRefused(f"docker engine option {name} is out of range: {number}")
    return number


def _shell(options: dict) -> str:
    shell = options.get("shell", "bash")
    if shell not in SHELLS:
        raise LaunchRefused(f"docker engine option shell must be one of {SHELLS}, not {shell!r}")
    return shell


def _environment(merged: list[tuple[str, str]]) -> dict[str, str]:
    # Later names win; a name docker cannot carry (empty, with "=" or NUL) is left out, as the
    # local engine does (the API refuses such pairs before they get here).
    env: dict[str, str] = {}
    for name, value in merged:
        if name and "=" not in name and "\0" not in name and "\0" not in value:
            env[name] = value
    return env


def _limits(spec: LaunchSpec) -> dict:
    limits: dict = {}
    if spec.mem_mb is not None:
        if not MIN_MEM_MB <= spec.mem_mb <= INT64_MAX // MIB:
            raise LaunchRefused(
                f"docker takes a memory limit from {MIN_MEM_MB} MB to {INT64_MAX // MIB} MB,"
                f" not {spec.mem_mb} MB"
            )
        # Memory and memory+swap alike: past the limit the command is OOM-killed, not swapped.
        limits["mem_limit"] = limits["memswap_limit"] = f"{spec.mem_mb}m"
    if spec.cpus is not None:
        # dockerd checks the range against the host's CPUs (a 400 we pass on); a number past
        # int64 would instead break its JSON decoding (a 500), so that one is refused here.
        if not 0 < spec.cpus <= MAX_CPUS:
            raise LaunchRefused(f"docker cannot limit a command to {spec.cpus} CPUs")
        limits["nano_cpus"] = max(1, round(spec.cpus * 1e9))
    if spec.gpus > 0:
        limits["device_requests"] = [DeviceRequest(count=spec.gpus, capabilities=[["gpu"]])]
    return limits


def _mounts(spec: LaunchSpec) -> list[DockerMount]:
    """Host mounts as binds, volume mounts as named volumes of this execution (made by their
    driver on create, removed by `cleanup()`). Host paths are checked against the allowed roots
    here too; a remote dockerd's paths can only be checked as written."""
    try:
        mounts = mounts_resolved(spec.mounts, resolve=_is_local(spec.options))
    except MountRefused as exc:
        raise LaunchRefused(exc.message) from exc
    return [_docker_mount(spec.execution_id, mount) for mount in mounts]


def _docker_mount(execution_id: str, mount: Mount) -> DockerMount:
    if mount.kind == "host":
        return DockerMount(
            target=mount.path, source=mount.host_path, type="bind", read_only=mount.read_only
        )
    driver = None
    if mount.driver or mount.driver_opts:
        driver = DriverConfig(mount.driver or "local", dict(mount.driver_opts))
    return DockerMount(
        target=mount.path,
        source=volume_name(execution_id, mount.name),
        type="volume",
        read_only=mount.read_only,
        labels={EXECUTION_LABEL: execution_id},
        driver_config=driver,
    )


def volume_name(execution_id: str, mount_name: str) -> str:
    if not VOLUME_PART.fullmatch(mount_name):
        raise LaunchRefused(f"mount name {mount_name[:200]!r} cannot name a docker volume")
    return f"{container_name(execution_id)}-{mount_name}"


def _is_local(options: dict) -> bool:
    return docker_host(options).startswith("unix://")


@dataclass(frozen=True)
class Staged:
    env: list[tuple[str, str]]
    mounts: list[DockerMount]


def _staged(spec: LaunchSpec) -> Staged:
    """The owner's scratch directory, made on this host and bound into the container at the
    same path, so the paths its variables name hold inside: read-only, except the directories
    the owner lets the command write (its `writable`), bound read-write and handed to the
    container's user. Only they are the user's: the rest stays root's."""
    if spec.prepare is None:
        return Staged([], [])
    if not _is_local(spec.options):
        raise LaunchRefused(
            "the owner stages files in a scratch directory, which needs a docker host on this"
            f" machine, not {docker_host(spec.options)}"
        )
    owner = _numeric_user(spec.options)
    workdir = scratch_make(spec.execution_id, owner=None, mode=0o711)
    env = scratch_prepare(spec, workdir)
    mounts = [DockerMount(target=str(workdir), source=str(workdir), type="bind", read_only=True)]
    for relative in spec.workdir_writable:
        path = workdir / relative
        path.mkdir(mode=0o700, exist_ok=True)
        os.chown(path, *owner)
        mounts.append(DockerMount(target=str(path), source=str(path), type="bind"))
    return Staged(env, mounts)


def _numeric_user(options: dict) -> tuple[int, int]:
    user = str(options.get("user") or DEFAULT_USER)
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or not (gid or uid).isdigit():
        raise LaunchRefused(
            f"the docker engine option user must be numeric (uid:gid) to stage files, not {user!r}"
        )
    return int(uid), int(gid or uid)


def _remove_volumes(client: docker.DockerClient, execution_id: str) -> None:
    """The volumes of this execution's volume mounts (their driver's data outlives them)."""
    try:
        volumes = client.volumes.list(filters={"label": f"{EXECUTION_LABEL}={execution_id}"})
        for volume in volumes:
            volume.remove(force=True)
    except (DockerException, *UNREACHABLE):
        logger.warning("could not remove the volumes of %s", execution_id, exc_info=True)


def _start_if_created(container: Container) -> None:
    """Start a container that is only created (ours, or a delivery that died between create and
    start). One that runs or has run is left alone: the command never runs twice."""
    if container.status != "created":
        return
    try:
        _unreachable_is_unavailable(container.start)
    except APIError as exc:
        # The runtime could not start the command (no such shell in the image, no GPU driver):
        # it never will. Leave no container behind for a later launch to attach to.
        _remove(container)
        raise LaunchRefused(f"docker could not start the command: {_explain(exc)}") from exc


def _explain(exc: APIError) -> str:
    return str(exc.explanation or exc)[:1000]


def _remove(container: Container) -> None:
    try:
        container.remove(force=True)
    except NotFound:
        pass
    except (DockerException, *UNREACHABLE):
        logger.warning("could not remove container %s", container.name, exc_info=True)


class DockerProcess:
    """A container started (or found) for one execution."""

    def __init__(
        self,
        client: docker.DockerClient,
        container: Container,
        *,
        workdir: Path | None = None,
        separate_stderr: bool = False,
    ) -> None:
        self.client = client
        self.container = container
        # The command's stderr is docker's stderr stream, read and tagged apart; otherwise the
        # wrapper joined it into stdout and every line is stdout.
        self.separate_stderr = separate_stderr
        # The scratch directory on this host (bound into the container), for the owner's
        # collect step; None when the owner stages nothing.
        self.workdir = workdir
        self.ref = {"container_id": container.id, "container_name": container.name}
        self._terminated = False

    def lines(self) -> Iterator[bytes]:
        for line, _ in self.tagged_lines():
            yield line

    def tagged_lines(self) -> Iterator[tuple[bytes, bool]]:
        """Each line with whether it came from stderr. Docker itself splits a long line into
        16 KB frames, and the other stream's frames may come between them: each stream has its
        own splitter, which rejoins a line up to its cut, so no line is ever whole in memory.
        Joined (`2>&1`, Flotilla's runs), everything is one stream marked stdout, in order;
        what reaches docker's stderr all the same (docker-init's own failure) joins it there."""
        splitters = {tag: LineSplitter(max_line=conf.LOG_MAX_LINE_BYTES) for tag in (False, True)}
        for from_stderr, chunk in self._output():
            tag = from_stderr and self.separate_stderr
            for line in splitters[tag].feed(chunk):
                yield line, tag
        for tag, splitter in splitters.items():
            for line in splitter.finish():
                yield line, tag

    def _output(self) -> Iterator[tuple[bool, bytes]]:
        """The container's output from its first byte to its last, piece by piece, each with
        whether it is stderr's."""
        consumed = {False: 0, True: 0}
        for from_stderr, piece in self._logs(follow=True):
            consumed[from_stderr] += len(piece)
            yield from_stderr, piece
        # dockerd 20.10's json-file follower can stop before the last lines of a container that
        # exits quickly (`seq 1 10000` lost thousands). What it sent is always a prefix of the
        # log, so of each stream: once the container has ended, read the log again and keep
        # what follows, stream by stream.
        self.container.wait(timeout=None)
        yield from _skip(self._logs(follow=False), consumed)

    def _logs(self, *, follow: bool) -> Iterator[tuple[bool, bytes]]:
        # The SDK's container.logs() drops each frame's stream id: the frames are read here.
        # No read timeout, so a quiet command does not hit the client's; the followed stream
        # ends when the container does.
        api = self.client.api
        response = api._get(
            api._url("/containers/{0}/logs", self.container.id),
            params={"stdout": 1, "stderr": 1, "follow": int(follow)},
            stream=True,
            timeout=(api.timeout, None),
        )
        try:
            api._raise_for_status(response)
            yield from _frames(response.raw)
        finally:
            response.close()

    def wait(self) -> Exit:
        # No timeout: the command may take days (its deadline is the supervisor's business).
        status = self.container.wait(timeout=None)
        self.container.reload()
        state = self.container.attrs.get("State", {})
        code = status.get("StatusCode")
        oom = bool(state.get("OOMKilled"))
        return Exit(
            exit_code=code,
            oom=oom,
            signal=self._signal(code, oom),
            reason=_exit_reason(oom, state, status),
        )

    def _signal(self, code: int | None, oom: bool) -> int | None:
        # Docker reports a signalled command as 128 + n, like a shell. Only an OOM kill or our
        # own stop makes that a signal for sure: a command may also `exit 137` by itself.
        if oom:
            return 9
        if self._terminated and code is not None and 128 < code < 160:
            return code - 128
        return None

    def terminate(self, *, grace: float) -> None:
        # Returns at once: `docker stop` sends SIGTERM and waits out the grace before SIGKILL.
        self._terminated = True
        threading.Thread(target=self._stop, args=(grace,), daemon=True).start()

    def cleanup(self) -> None:
        _remove(self.container)
        _remove_volumes(self.client, self.container.labels.get(EXECUTION_LABEL, ""))
        self.client.close()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _stop(self, grace: float) -> None:
        try:
            if grace <= 0:
                self.container.kill()
            else:
                self.container.stop(timeout=max(1, math.ceil(grace)))
        except NotFound:
            pass
        except APIError as exc:
            # 409: it is not running any more. Anything else: the next heartbeat stops it again.
            if exc.status_code != 409:
                logger.warning("could not stop container %s: %s", self.container.name, exc)
        except (DockerException, *UNREACHABLE):
            logger.warning("could not stop container %s", self.container.name, exc_info=True)


def _frames(raw) -> Iterator[tuple[bool, bytes]]:
    """The pieces of a multiplexed stream, each with whether it is stderr's; a frame's payload
    is read at most READ_SIZE bytes at a time, whatever length its header claims."""
    while len(header := _read_exactly(raw, FRAME_HEADER.size)) == FRAME_HEADER.size:
        stream, length = FRAME_HEADER.unpack(header)
        while length:
            piece = raw.read(min(length, READ_SIZE))
            if not piece:
                return
            length -= len(piece)
            yield stream == STDERR_STREAM, piece


def _read_exactly(raw, size: int) -> bytes:
    """`size` bytes of `raw`, fewer only at its end."""
    data = b""
    while len(data) < size and (more := raw.read(size - len(data))):
        data += more
    return data


def _skip(
    pieces: Iterator[tuple[bool, bytes]], counts: dict[bool, int]
) -> Iterator[tuple[bool, bytes]]:
    """`pieces` without the first `counts[stream]` bytes of each stream."""
    left = dict(counts)
    for stream, piece in pieces:
        skipped = min(left[stream], len(piece))
        left[stream] -= skipped
        if skipped < len(piece):
            yield stream, piece[skipped:]


def _exit_reason(oom: bool, state: dict, status: dict) -> str:
    if oom:
        return "OOMKilled: the command exceeded its memory limit"
    error = state.get("Error") or (status.get("Error") or {}).get("Message") or ""
    return str(error)[:1000]
