"""Settings of the Scale family, read from the environment on every use (so a running process
and the tests follow their environment). Every name is documented in docs/scale.md."""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured

from domain.common.env import env_bool, env_str

WORKSPACE_NAME = re.compile(r"[A-Za-z0-9_-]{1,50}")


def default_workspace_name() -> str:
    """The workspace a configuration without `output_workspaces` writes its outputs to."""
    name = env_str("SCALE_DEFAULT_WORKSPACE", "default")
    if not WORKSPACE_NAME.fullmatch(name):
        raise ImproperlyConfigured(
            "SCALE_DEFAULT_WORKSPACE must be 1 to 50 letters, digits, `_` or `-`"
        )
    return name


def public_read_api() -> bool:
    """As the original's PUBLIC_READ_API: reads and `/validation` need no token when true."""
    return env_bool("SCALE_PUBLIC_READ_API", False)


def jobs_cluster() -> str:
    """The executions cluster jobs run on (`SCALE_JOBS_CLUSTER`, EXECUTIONS_CLUSTERS names it)."""
    return env_str("SCALE_JOBS_CLUSTER", "default")
