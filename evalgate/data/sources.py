"""Where a suite's rows come from: one file, a glob of files, or a folder of files.

``data.path`` names one ``.csv`` / ``.csv.gz`` / ``.parquet`` file, a glob of them
(``data/eval/*.parquet``, ``**`` for subfolders) or a folder holding them. A set of files is
read in **sorted path order**, each file's rows in their order, so a row's position — its
key — is the same on every machine and under every engine. What a set may hold is strict,
because a stray file would silently join the evaluation rows:

- one format only (Parquet, or CSV/CSV.gz): a CSV export left in a Parquet folder is an error;
- a file that holds rows evalgate does not read (``part-1.csv.bz2``, ``.tsv``, ``.jsonl``…)
  is an error naming it, not a file passed over: the verdict would judge the other files'
  rows alone;
- a folder's data files directly inside it (hidden files and the ``_``-prefixed files that
  writers leave, ``_SUCCESS``, ``_metadata``, are ignored); data files in subfolders
  (Hive-style partitions, whose partition values live in folder names) are an error naming
  them — point ``path`` at a glob to read them on purpose; a glob passes over what lies in
  hidden or ``_``-prefixed folders below its fixed part (Spark's ``_temporary/``);
- at least one file.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path

#: the file types a dataset may be read from
DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet")
_GLOB_CHARS = frozenset("*?[")


class SourceProblem(ValueError):
    """``data.path`` names no usable set of files (the message says why)."""


@dataclass(frozen=True)
class Sources:
    """The files of one dataset: ``path`` as the suite resolved it (a file, a glob, a folder),
    ``files`` the data files it names in reading order, ``many`` whether ``path`` names a set
    (a glob or a folder: the verdict then lists each file)."""

    path: Path
    files: tuple[Path, ...]
    many: bool


def is_pattern(text: str) -> bool:
    return any(c in _GLOB_CHARS for c in text)


def data_suffix(name: str) -> str | None:
    low = name.lower()
    return next((s for s in DATA_SUFFIXES if low.endswith(s)), None)


def _kind(suffix: str | None) -> str:
    return "Parquet" if suffix == ".parquet" else "CSV"


def _one_format(files: list[Path], where: str) -> None:
    kinds = {_kind(data_suffix(f.name)) for f in files}
    if len(kinds) > 1:
        first = {k: next(f for f in files if _kind(data_suffix(f.name)) == k) for k in kinds}
        shown = ", ".join(f"{k} ({first[k].name})" for k in sorted(kinds))
        raise SourceProblem(f"{where} mixes file formats: {shown}; keep one format per dataset")


def _ignored(name: str) -> bool:
    return name.startswith((".", "_"))


#: name parts of files that hold rows in a format evalgate does not read
_OTHER_DATA = (".csv", ".tsv", ".parquet", ".pq", ".json", ".jsonl", ".ndjson", ".feather",
               ".arrow", ".orc", ".avro", ".xls", ".xlsx")


def _unread(files: list[Path], where: str) -> None:
    """Refuse a set beside which lie files of rows evalgate would not read."""
    other = [f for f in files if data_suffix(f.name) is None and not _ignored(f.name)
             and any(part in f.name.lower() for part in _OTHER_DATA)]
    if other:
        raise SourceProblem(f"{where} holds {other[0].name!r}"
                            f"{f' and {len(other) - 1} more' if len(other) > 1 else ''}, rows "
                            f"in a format evalgate does not read ({', '.join(DATA_SUFFIXES)} "
                            f"only): judging the other files alone would leave them out; "
                            f"convert them or move them out")


def resolve(text: str, base: Path) -> Sources:
    """The files ``data.path`` = ``text`` names, relative to ``base`` (the suite's folder)."""
    if is_pattern(text):
        return _from_glob(text, base)
    path = (base / text).resolve()
    if path.is_dir():
        return _from_folder(text, path)
    if data_suffix(text) is None:
        raise SourceProblem(f"unsupported data file {text!r}; use one of "
                            f"{', '.join(DATA_SUFFIXES)}, a glob of them or a folder")
    if not path.is_file():
        raise SourceProblem(f"data file {text!r} not found (looked for {path})")
    return Sources(path, (path,), many=False)


def _from_glob(text: str, base: Path) -> Sources:
    if data_suffix(text) is None:
        raise SourceProblem(f"the glob {text!r} must end in one of {', '.join(DATA_SUFFIXES)} "
                            f"(e.g. 'data/eval/*.parquet'), so that it names data files only")
    pattern = base / text
    found = sorted(Path(p).resolve() for p in glob.glob(str(pattern), recursive=True))
    folders = [f for f in found if f.is_dir()]
    if folders:  # e.g. Spark's out.parquet/ folder of part files: its rows would be missed
        raise SourceProblem(f"the glob {text!r} matches the folder {folders[0].name!r}, not a "
                            f"file; name the files inside it (e.g. "
                            f"'{folders[0].name}/*{data_suffix(text)}')")
    root = Path(*[part for part in takewhile(lambda p: not is_pattern(p), Path(text).parts)])
    fixed = (base / root).resolve()
    files = [f for f in found if f.is_file() and not _ignored(f.name)
             and not any(_ignored(p) for p in _below(f.parent, fixed))]
    if not files:
        raise SourceProblem(f"the glob {text!r} matches no data file (looked for {pattern})")
    _one_format(files, f"the glob {text!r}")
    return Sources(pattern, tuple(files), many=True)


def _below(folder: Path, fixed: Path) -> tuple[str, ...]:
    """The names of ``folder``'s parts below ``fixed`` (none when it is not below)."""
    try:
        return folder.relative_to(fixed).parts
    except ValueError:
        return ()


def _from_folder(text: str, folder: Path) -> Sources:
    inside = sorted(folder.iterdir())
    _unread([p for p in inside if p.is_file()], f"the folder {text!r}")
    files = [p for p in inside if p.is_file() and not _ignored(p.name)
             and data_suffix(p.name) is not None]
    nested = sorted(p for sub in inside if sub.is_dir() and not _ignored(sub.name)
                    for p in sub.rglob("*") if p.is_file() and data_suffix(p.name) is not None)
    if nested:
        raise SourceProblem(
            f"the folder {text!r} has data files in subfolders ({nested[0].relative_to(folder)}"
            f"{f' and {len(nested) - 1} more' if len(nested) > 1 else ''}), which a folder "
            f"path does not read; name them with a glob, e.g. '{text.rstrip('/')}/**/*"
            f"{data_suffix(nested[0].name)}'")
    if not files:
        raise SourceProblem(f"the folder {text!r} holds no data file "
                            f"({', '.join(DATA_SUFFIXES)}; looked in {folder})")
    _one_format(files, f"the folder {text!r}")
    return Sources(folder, tuple(files), many=True)
