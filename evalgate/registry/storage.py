"""How the local registry stores a change so that a crash at any point leaves it readable and
consistent: the files, the lock, durable writes, and the crash points tests kill it at.

The registry needs no server: a folder (``registry/``, or ``[tool.evalgate] registry``) with
one folder per model name::

    registry/churn/
      .lock              locked (filelock) by every command that changes ``churn``
      state.json         the committed state: aliases, champion stack, audit head (count + hash)
      audit.jsonl        append-only JSON lines; each carries the sha256 of the line before it
      versions/3/        one complete version: model.onnx + version.json (never edited)
      verdicts/<sha>.json         a copy of each verdict that allowed a promotion
      verdicts/<sha>.signoff.json the sign-off that went with it, when it was bound to the verdict

Every change runs under the lock and follows one protocol (:mod:`.local` drives it with the
helpers here):

1. new files go to a temporary name, are flushed (fsync) and renamed into place; a version
   folder is built as ``versions/.tmp-*`` and renamed to ``versions/N`` only when complete;
2. the change is appended to ``audit.jsonl`` as one line (fsync);
3. ``state.json`` is replaced atomically (compare-and-swap on the audit head). This is the
   commit point: readers only ever read ``state.json``, so an alias never names a version
   whose files are incomplete.

A command killed between 2 and 3 leaves at most one uncommitted line at the end of the log;
the next change discards it (it never took effect) before appending. A version folder renamed
into place whose ``register`` entry was not committed is adopted by the next change (a
``register`` entry with ``"recovered": true``). More than one uncommitted line, or a log that
does not end at the head recorded in ``state.json``, is tampering (:mod:`.audit`): writes are
refused and ``evalgate audit verify`` says where the chain breaks.

Test hook: ``EVALGATE_TEST_CRASH_AT=<step>`` (one of :data:`CRASH_STEPS`) makes the process
``os._exit(137)`` at that step of a change, so tests can kill a promotion anywhere.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._io import fsync_dir, sha256_file, write_atomic
from ..errors import RegistryError
from .records import Version, dumps

_CHUNK = 1 << 20
LOCK_TIMEOUT_S = 60.0
CRASH_ENV = "EVALGATE_TEST_CRASH_AT"
#: where EVALGATE_TEST_CRASH_AT can kill a change, in the order a promotion meets them
CRASH_STEPS = (
    "locked",            # lock held, state recovered, nothing written
    "version-copied",    # model bytes in versions/.tmp-*, version.json not yet written
    "version-written",   # temporary version folder complete, not yet renamed
    "version-renamed",   # versions/N in place, its register entry not yet appended
    "register-appended", # register entry in the log, state.json not yet replaced
    "register-committed",  # state.json replaced: the version is registered
    "verdict-stored",    # verdict copy written, promote entry not yet appended
    "promote-appended",  # promote entry in the log, state.json not yet replaced
    "promote-committed",  # state.json replaced: the alias has moved (lock still held)
)


def crash_point(step: str) -> None:
    """Test hook: ``EVALGATE_TEST_CRASH_AT=step`` kills the process here (see CRASH_STEPS)."""
    if os.environ.get(CRASH_ENV) == step:
        os._exit(137)


def now() -> str:
    """The time now (UTC, ISO 8601, seconds), as entries record it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def user() -> str:
    """The user running the command, as entries record it."""
    try:
        return getpass.getuser()
    except Exception:
        return os.environ.get("USER", "unknown")


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold ``directory/.lock`` (an OS file lock, released by the kernel if the process dies);
    :class:`RegistryError` after :data:`LOCK_TIMEOUT_S` seconds of waiting."""
    from filelock import FileLock, Timeout

    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(directory / ".lock", timeout=LOCK_TIMEOUT_S)
    try:
        lock.acquire(poll_interval=0.02)
    except Timeout:
        raise RegistryError(f"{directory}: locked by another evalgate command for more than "
                            f"{LOCK_TIMEOUT_S:.0f} s") from None
    try:
        yield
    finally:
        lock.release()


def append_line(path: Path, raw: bytes) -> None:
    """Append ``raw`` and a newline to ``path`` durably (fsync; the folder too when the file
    is new)."""
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(raw + b"\n")
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)


def truncate(path: Path, size: int) -> None:
    """Cut ``path`` back to its first ``size`` bytes, durably."""
    with open(path, "r+b") as f:
        f.truncate(size)
        f.flush()
        os.fsync(f.fileno())


def remove_temporaries(folder: Path) -> None:
    """Remove the ``.tmp-*`` folders an interrupted command left in ``folder``."""
    if folder.is_dir():
        for d in folder.iterdir():
            if d.name.startswith(".tmp-"):
                shutil.rmtree(d, ignore_errors=True)


def copy_hashed(source: Path, target: Path) -> tuple[str, int]:
    """Copy ``source`` to ``target`` durably; the sha256 and size of the bytes copied."""
    h = hashlib.sha256()
    size = 0
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return h.hexdigest(), size


def store_version(versions_dir: Path, version: Version, model: Path) -> Version:
    """Build ``version`` (its number, file name and sha256 set) as ``versions/.tmp-*``: copy
    the model's bytes (they must hash to ``version.sha256``), write version.json, and rename
    the folder to ``versions/N`` once complete. The version as stored (size, inputs)."""
    versions_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{version.number}-", dir=versions_dir))
    try:
        copied, size = copy_hashed(model, tmp / version.file)
        if copied != version.sha256:
            raise RegistryError(f"{model}: the file changed while it was being registered")
        crash_point("version-copied")
        v = replace(version, size=size, inputs=input_signature(tmp / version.file,
                                                                version.format))
        write_atomic(tmp / "version.json", dumps(v.record()))
        fsync_dir(tmp)
        crash_point("version-written")
        os.rename(tmp, v.dir)
        fsync_dir(versions_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return v


def fingerprint(path: Path) -> dict[str, Any]:
    """The training data's fingerprint: a file's full-content sha256, or a folder's (the
    sha256 of its sorted (path, sha256) list) with each file's; and, for the tables evalgate
    reads (CSV, Parquet), the rows and the columns."""
    if path.is_file():
        return {"path": str(path), "sha256": sha256_file(path), "size": path.stat().st_size,
                **_shape([path])}
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        each = [(p.relative_to(path).as_posix(), sha256_file(p)) for p in files]
        listing = "".join(f"{name}\0{sha}\n" for name, sha in each)
        return {"path": str(path), "sha256": hashlib.sha256(listing.encode()).hexdigest(),
                "files": len(files), "size": sum(p.stat().st_size for p in files),
                "each": [{"path": name, "sha256": sha} for name, sha in each],
                **_shape(files)}
    raise RegistryError(f"{path}: training data not found")


def _shape(files: list[Path]) -> dict[str, Any]:
    """``rows`` (over the files) and ``columns`` (of the first) of the tables among ``files``
    evalgate can read; nothing when none is one or one cannot be read (the sha256 is the
    fingerprint; these are what a reader of the lineage wants to see)."""
    from ..data.sources import data_suffix

    tables = [f for f in files if data_suffix(f.name) is not None]
    if not tables:
        return {}
    try:
        rows, columns = 0, None
        for f in tables:
            n, cols = _table_shape(f)
            rows += n
            columns = columns if columns is not None else cols
    except Exception:  # a table that does not parse: the fingerprint still stands
        return {}
    return {"rows": rows, "columns": columns}


def _table_shape(path: Path) -> tuple[int, list[str]]:
    import pandas as pd

    if path.name.lower().endswith(".parquet"):
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path)
        return meta.metadata.num_rows, list(meta.schema_arrow.names)
    columns = list(pd.read_csv(path, nrows=0).columns)
    rows = sum(len(chunk) for chunk in pd.read_csv(path, usecols=[0], chunksize=1_000_000))
    return rows, [str(c) for c in columns]


def input_signature(path: Path, fmt: str) -> list[dict[str, Any]] | None:
    """The model's inputs (name, type, shape) as onnxruntime reports them; None for non-ONNX."""
    if fmt != "onnx":
        return None
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RegistryError(f"{path}: not a loadable ONNX model: {first}") from None
    return [{"name": i.name, "type": i.type,
             "shape": [d if isinstance(d, int) else None for d in (i.shape or [])]}
            for i in session.get_inputs()]
