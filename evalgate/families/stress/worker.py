"""A child process that feeds a model malformed batches or one large batch, so that a model
which crashes (segfault, abort) cannot take the gate down with it.

    python -m evalgate.families.stress.worker malformed MODEL ROWS.parquet FEATURES.json [--trust]
        reads case names on stdin, one per line; answers one JSON line per case
    python -m evalgate.families.stress.worker memory MODEL ROWS.parquet FEATURES.json [--trust]
        prints one JSON line: resident memory growth while predicting ROWS

The gate runs this file by its path (:mod:`.child`), not as a module of its package, so that a
child imports pandas and the model's runtime but not the stress family and the statistics it
needs (0.2 s a child).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

UNSEEN = "__evalgate_unseen__"


def _numeric(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns
            if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]


def _set(columns: list[str], value: Any) -> Any:
    """Set every column of ``columns`` to ``value`` (a scalar or one value per row)."""
    def apply(frame: pd.DataFrame) -> pd.DataFrame:
        for c in columns:
            frame[c] = value(frame) if callable(value) else value
        return frame
    return apply


def _alternating_inf(frame: pd.DataFrame) -> np.ndarray:
    return np.where(np.arange(len(frame)) % 2 == 0, np.inf, -np.inf)


def malformed_frame(base: pd.DataFrame, case: str) -> pd.DataFrame | None:
    """``base`` made malformed as ``case`` says; ``None`` when the case does not apply."""
    frame = base.copy()
    numeric = _numeric(frame)
    text = [c for c in frame.columns if c not in numeric]
    cases = {  # case → (the columns it needs, what it does to the frame)
        "nan": (numeric, _set(numeric, np.nan)),
        "inf": (numeric, _set(numeric, _alternating_inf)),
        "huge": (numeric, _set(numeric, 1e30)),
        "empty": (None, lambda f: f.iloc[:0]),
        "one_row": (None, lambda f: f.iloc[:1]),
        "unseen_category": (text, _set(text, UNSEEN)),
        "wrong_dtype": (numeric, _set(numeric, "not a number")),
    }
    needs, make = cases[case]
    if needs is not None and not needs:
        return None
    return make(frame).reset_index(drop=True)


def outcome(model: Any, frame: pd.DataFrame, features: list[str]) -> dict[str, Any]:
    """finite output, NaN output, or a clean error (a crash never returns)."""
    try:
        raw = model.predict(frame, features)
    except Exception as exc:
        return {"outcome": "error", "message": f"{type(exc).__name__}: {exc}"[:300]}
    arrays = [a for a in (raw.proba, raw.values) if a is not None]
    bad = sum(int((~np.isfinite(np.asarray(a, dtype=np.float64))).any(axis=-1).sum()
                  if np.asarray(a).ndim > 1 else (~np.isfinite(np.asarray(a, float))).sum())
              for a in arrays)
    rows = len(frame)
    if bad:
        return {"outcome": "nan_output", "message": f"{bad} of {rows} rows non-finite"}
    return {"outcome": "finite", "message": f"{rows} row{'s' if rows != 1 else ''} predicted"}


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def memory_growth(model: Any, frame: pd.DataFrame, features: list[str]) -> dict[str, Any]:
    """Peak resident memory growth (MB) while predicting ``frame``, native allocations
    included: the kernel's high-water mark is reset first (Linux clear_refs)."""
    import resource

    if hasattr(model, "chunk_rows"):  # the batch in one run, as a service would send it: the
        model.chunk_rows = max(len(frame), 1)  # model's memory, not that of evalgate's chunks
    model.predict(frame.iloc[:1], features)  # load lazily-initialised state first
    before = _status_kb("VmRSS")
    method = "VmHWM"
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        method = "ru_maxrss"
    base = _status_kb("VmHWM") if method == "VmHWM" else \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model.predict(frame, features)
    peak = _status_kb("VmHWM") if method == "VmHWM" else \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if base is None or peak is None:
        return {"error": "cannot read this process's memory use on this platform"}
    return {"growth_mb": max(0, peak - base) / 1024, "rss_before_mb": (before or 0) / 1024,
            "peak_mb": peak / 1024, "rows": len(frame), "method": method}


def main(argv: list[str]) -> int:
    from evalgate.models import load_model  # absolute: run by path, outside its package

    mode, model_path, rows_path, features_path = argv[:4]
    trust = "--trust" in argv
    model = load_model(model_path, trust_pickle=trust)
    frame = pd.read_parquet(rows_path)
    features = json.loads(Path(features_path).read_text())
    if mode == "memory":
        print(json.dumps(memory_growth(model, frame, features)), flush=True)
        return 0
    for line in sys.stdin:
        case = line.strip()
        if not case:
            continue
        malformed = malformed_frame(frame, case)
        answer = ({"outcome": "not_applicable", "message": "no column of that kind"}
                  if malformed is None else outcome(model, malformed, features))
        print(json.dumps({"case": case, **answer}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
