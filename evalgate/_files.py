"""What kind of file a path is, so that a FIFO, a device or a folder is refused before it is
opened (opening a FIFO for reading blocks until a writer comes, which may be never)."""

from __future__ import annotations

import os
import stat

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"))


def file_kind(mode: int) -> str:
    """``"a regular file"``, ``"a FIFO (named pipe)"``, ``"a directory"``, … for a stat mode."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def stat_regular(path: str | os.PathLike[str]) -> os.stat_result | str:
    """``os.stat(path)`` when it is a regular file (links followed), else what it is instead
    (a phrase for a message). ``FileNotFoundError`` and other ``OSError`` propagate."""
    info = os.stat(path)
    return info if stat.S_ISREG(info.st_mode) else file_kind(info.st_mode)
