"""Files that hold a secret (the generated Django key, the first admin token).

Such a file is readable by its owner only from the moment it exists: it is created 0600 with
O_EXCL (which also refuses to follow a planted symlink), filled, and only then linked into place,
so no other user can open it in between and no reader ever sees it half written. Plain Python
with no Django import: settings.py uses it before Django is set up.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PRIVATE_MODE = 0o600


def private_file_write(path: Path, text: str, *, replace: bool) -> bool:
    """Write `text` to `path` as a 0600 file. With `replace`, an existing file is replaced;
    without, an existing file is kept and False is returned (two processes that race to create
    it end up reading the same one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(staging, path)
            return True
        try:
            os.link(staging, path)
        except FileExistsError:
            return False
        return True
    finally:
        staging.unlink(missing_ok=True)
