"""Which files make up the gate: every suite file at a path (DESIGN.md §1)."""

from __future__ import annotations

import os
from pathlib import Path

SUITE_SUFFIXES = (".yaml", ".yml")


def is_suite_file(path: Path) -> bool:
    """A ``.yaml``/``.yml`` file, in any letter case."""
    return path.suffix.lower() in SUITE_SUFFIXES


def find_suites(path: Path) -> list[Path]:
    """The suite files at ``path``: the file itself, or every ``.yaml``/``.yml`` entry (any
    letter case) below it, in every subfolder — hidden ones, those pytest does not recurse
    into (``build/``, ``venv/``) and symlinked ones (``suites/shared -> ../org-suites``; each
    folder walked once, so a link back up ends) too: the gate is every suite there is. An
    entry that is not a regular file (a dangling link, a FIFO) is kept: reading it is the
    suite's error, which blocks, never a suite silently left out."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(path, followlinks=True):
        info = os.stat(folder)
        if (info.st_dev, info.st_ino) in seen:
            dirs[:] = []  # reached again through a link: walked already
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs.sort()
        found.extend(Path(folder) / name for name in files if is_suite_file(Path(name)))
    return sorted(found)
