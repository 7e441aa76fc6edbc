"""Where a workspace keeps its files: a directory on the host, or a bucket of S3 or any
S3-compatible server (`boto3`; `endpoint_url` names a server other than AWS).

    storage_for(workspace).put(local file, path)    — an output is stored
    storage_for(workspace).fetch(path, local file)  — an input is staged for a job

Paths are relative to the workspace's root and never leave it.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from domain.common.errors import InvalidInput
from domain.jobs.models import BrokerType, Workspace
from domain.jobs.secret_store import secret_values_read

READ_SIZE = 1024 * 1024


class FileStore(Protocol):
    def put(self, source: Path, path: str) -> None: ...

    def fetch(self, path: str, target: Path) -> None: ...

    def exists(self, path: str) -> bool: ...


def safe_relative(path: str) -> str:
    """`path` as a relative path inside a workspace; one that would leave it is refused."""
    normal = posixpath.normpath("/" + path.lstrip("/")).lstrip("/")
    if not normal or normal.startswith("..") or "\0" in normal:
        raise InvalidInput(f"{path!r} is not a path inside a workspace")
    return normal


@dataclass(frozen=True)
class HostStore:
    root: Path

    def _at(self, path: str) -> Path:
        return self.root / safe_relative(path)

    def put(self, source: Path, path: str) -> None:
        target = self._at(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy under a temporary name and rename: a reader never sees half a file.
        partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
        shutil.copyfile(source, partial)
        partial.replace(target)

    def fetch(self, path: str, target: Path) -> None:
        shutil.copyfile(self._at(path), target)

    def exists(self, path: str) -> bool:
        return self._at(path).is_file()


@dataclass(frozen=True)
class S3Store:
    bucket: str
    prefix: str
    client: object

    def _key(self, path: str) -> str:
        relative = safe_relative(path)
        return posixpath.join(self.prefix, relative) if self.prefix else relative

    def put(self, source: Path, path: str) -> None:
        self.client.upload_file(str(source), self.bucket, self._key(path))

    def fetch(self, path: str, target: Path) -> None:
        self.client.download_file(self.bucket, self._key(path), str(target))

    def exists(self, path: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(path))
        except ClientError:
            return False
        return True


def storage_for(workspace: Workspace) -> FileStore:
    broker = workspace.json_config.get("broker", {})
    if workspace.broker_type == BrokerType.S3:
        return _s3_store(workspace, broker)
    return HostStore(Path(broker["host_path"]))


def _s3_store(workspace: Workspace, broker: dict) -> S3Store:
    import boto3

    credentials = secret_values_read(key=workspace.secrets_key)
    client = boto3.client(
        "s3",
        endpoint_url=broker.get("endpoint_url"),
        region_name=broker.get("region_name") or "us-east-1",
        # None: boto3's own chain (environment, instance profile) finds the credentials.
        aws_access_key_id=credentials.get("access_key_id"),
        aws_secret_access_key=credentials.get("secret_access_key"),
    )
    prefix = (broker.get("host_path") or "").strip("/")
    return S3Store(bucket=broker["bucket_name"], prefix=prefix, client=client)


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(READ_SIZE):
            digest.update(block)
    return digest.hexdigest()
