"""Whether a dataset fits the local engine: its size in memory as a pandas frame, estimated
from the files before any row is read, against the memory this machine has available — so
that a dataset too large for one process gets a clear message suggesting the Dask engine, not
an out-of-memory kill halfway through.

The estimate is deliberately rough and on the low side (a refusal must be right): a Parquet
file's uncompressed column data (from its footer) — pandas' string columns take more, never
less — and a CSV file's own size (text numbers shrink in memory, text strings grow), four times
a gzipped CSV's (a conservative compression ratio for tabular text).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

#: bytes in memory per byte of a gzipped CSV (its text at least this many times larger)
GZIP_RATIO = 4
_GIB = 1 << 30


def estimated_bytes(files: Sequence[Path]) -> int:
    """A low estimate of the files' rows in memory as one pandas frame."""
    total = 0
    for path in files:
        name = path.name.lower()
        try:
            if name.endswith(".parquet"):
                import pyarrow.parquet as pq

                meta = pq.ParquetFile(path).metadata
                total += sum(meta.row_group(g).total_byte_size
                             for g in range(meta.num_row_groups))
            elif name.endswith(".csv.gz"):
                total += path.stat().st_size * GZIP_RATIO
            else:
                total += path.stat().st_size
        except Exception:  # unreadable here: reading it will say why
            continue
    return total


def available_bytes() -> int | None:
    """Memory this process may still use: the system's available memory, capped by a cgroup
    (container) limit; ``None`` where neither can be read."""
    found: list[int] = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except OSError:
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit.isdigit() and used.isdigit():
            found.append(max(int(limit) - int(used), 0))
    except OSError:
        pass
    if not found and hasattr(os, "sysconf"):
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            pass
    return min(found) if found else None


def too_large(files: Sequence[Path]) -> str | None:
    """Why ``files`` cannot be read by the local engine (``None`` when they may fit)."""
    need = estimated_bytes(files)
    have = available_bytes()
    if have is None or need <= have:
        return None
    return (f"the data would take at least {need / _GIB:,.1f} GiB in memory, more than the "
            f"{have / _GIB:,.1f} GiB this machine has available; run the gate on the Dask "
            f"engine, which reads and predicts it partition by partition: "
            f"--evalgate-engine dask (evalgate run --engine dask, or [tool.evalgate] engine = "
            f"\"dask\")")
