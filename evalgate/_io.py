"""Durable file writes and hashing shared by the verdict, the report and the registry."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def sha256_files(paths: Sequence[Path]) -> tuple[str, tuple[str, ...]]:
    """The sha256 of the files' bytes read one after another in the given order (for one file,
    its own sha256), and each file's own — in one read of each file."""
    whole = hashlib.sha256()
    each = []
    for path in paths:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(_CHUNK):
                h.update(block)
                whole.update(block)
        each.append(h.hexdigest())
    return whole.hexdigest(), tuple(each)


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` so that readers see the old file or the new one, whole: a temporary
    file in the same folder, flushed and fsynced, renamed over ``path``, the rename fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)
