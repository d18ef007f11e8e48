"""Time the whole gate next to the bare onnxruntime inference of its two models.

    python bench/gate.py [--rows 1000000] [--repeat 3]

Rows: the shipped Adult test split (16,281 rows), and a sample of --rows drawn from it with
replacement (seed 0), stored as Parquet. The suite is suites/adult.yaml's performance family
(every family with --all-families). "bare" is onnxruntime's ``run`` of both models on
ready-made input tensors (ZipMap removed, as evalgate runs them); "gate" is evalgate's whole
run of suites/adult.yaml on the same rows (reading the data file, both predictions, every
check); "performance" is the performance family alone. Best of --repeat.

Then, on the Adult test split, the whole-process figures a user waits for (issue 19): ``python
-m evalgate run`` of the performance family, and a bare script that loads both models with
onnxruntime and predicts the rows (median of --repeat each), and the gate's imports by
top-level package (``-X importtime``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalgate.engine import Gate  # noqa: E402
from evalgate.families import load_suite  # noqa: E402
from evalgate.models import load_model  # noqa: E402

CANDIDATE = ROOT / "examples/models/candidate.onnx"
CHAMPION = ROOT / "examples/models/champion.onnx"
DATA = ROOT / "examples/data/adult_test.csv.gz"


def bare_inference(frame: pd.DataFrame, features: list[str], repeat: int) -> float:
    best = np.inf
    models = [load_model(p) for p in (CANDIDATE, CHAMPION)]
    feeds = []
    for m in models:
        m._bind(features)
        feeds.append(m._feed(frame, features))
    for _ in range(repeat):
        t = time.perf_counter()
        for m, feed in zip(models, feeds):
            names = [o.name for o in m._session.get_outputs()]
            m._session.run(names, feed)
        best = min(best, time.perf_counter() - t)
    return best


def gate_run(suite_path: Path, repeat: int) -> tuple[float, dict[str, float]]:
    best, timings = np.inf, {}
    for _ in range(repeat):
        gate = Gate(CANDIDATE)
        suite = load_suite(suite_path)
        t = time.perf_counter()
        outcome = gate.run_suite(suite)
        elapsed = time.perf_counter() - t
        assert outcome.error is None, outcome.error
        if elapsed < best:
            best, timings = elapsed, dict(outcome.timings)
    return best, timings


BARE_PROCESS = """
import sys, time
import numpy as np, onnx, onnxruntime as ort, pandas as pd
frame = pd.read_csv(sys.argv[1]).drop(columns=["income"])
for path in sys.argv[2:]:
    model = onnx.load(path)
    zipmaps = [n for n in model.graph.node if n.op_type == "ZipMap"]
    for n in zipmaps:  # read the probabilities, as evalgate does
        model.graph.node.remove(n)
        del model.graph.output[:]
        model.graph.output.extend([onnx.helper.make_tensor_value_info(n.input[0], 1, None)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {}
    for i in session.get_inputs():
        column = frame[i.name.replace("_", "-")] if i.name not in frame else frame[i.name]
        kind = np.float32 if "float" in i.type else np.int64 if "int" in i.type else str
        feed[i.name] = column.to_numpy().astype(kind).reshape(-1, 1)
    session.run(None, feed)
"""


def whole_process(args: list[str], repeat: int, cwd: Path) -> float:
    """The median wall time of ``args`` as a fresh process (interpreter start-up, imports,
    reading, predicting, writing — what a user waits for)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{args} failed:\n{done.stderr[-2000:]}")
    return float(np.median(times))


def import_breakdown(args: list[str], cwd: Path) -> list[tuple[str, float]]:
    """The packages a run imports at the top level (not from within another package), by
    cumulative import seconds (``python -X importtime``), largest first."""
    done = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=cwd,
                          capture_output=True, text=True)
    found: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line.removeprefix("import time:").split("|")
        name = fields[2]
        if fields[1].strip().isdigit() and not name.startswith("  "):  # top level
            top = name.strip().split(".")[0]
            found[top] = found.get(top, 0.0) + int(fields[1]) / 1e6
    return sorted(found.items(), key=lambda kv: -kv[1])


def whole(suite: Path, repeat: int) -> None:
    """The whole-process figures: the performance-family gate on the Adult test split, the
    bare inference of both models, and where the gate's imports go."""
    with tempfile.TemporaryDirectory() as tmp:
        gate_args = [sys.executable, "-m", "evalgate", "run", str(CANDIDATE), "--suites",
                     str(suite), "--report", "reports"]
        gate = whole_process(gate_args, repeat, Path(tmp))
        bare = whole_process([sys.executable, "-c", BARE_PROCESS, str(DATA), str(CANDIDATE),
                              str(CHAMPION)], repeat, Path(tmp))
        imports = import_breakdown(gate_args[1:], Path(tmp))
    print(f"whole process (median of {repeat}): gate {gate:.2f} s, bare inference of both "
          f"models {bare:.2f} s ({gate / bare:.2f}x); target ≤ 1.2 s")
    total = sum(t for _, t in imports)
    print(f"imports {total:.2f} s: " + ", ".join(f"{name} {t:.2f}" for name, t in imports[:10]
                                                 if t >= 0.01))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--all-families", action="store_true",
                    help="gate on every family of suites/adult.yaml (default: performance only, "
                         "the family whose cost is compared with bare inference)")
    args = ap.parse_args()
    base = pd.read_csv(DATA)
    import yaml

    doc = yaml.safe_load((ROOT / "suites/adult.yaml").read_text())
    if not args.all_families:
        doc["checks"] = {"performance": doc["checks"]["performance"]}
    suite_text = yaml.safe_dump(doc, sort_keys=False)
    features = [c for c in base.columns if c != "income"]
    print(f"{'rows':>10} {'bare (2 models)':>16} {'gate':>8} {'performance':>12} "
          f"{'perf/bare':>10}  stages")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in (len(base), args.rows):
            if rows == len(base):
                frame, path = base, DATA
            else:
                idx = np.random.default_rng(0).integers(0, len(base), size=rows)
                frame = base.iloc[idx].reset_index(drop=True)
                path = Path(tmp) / f"adult_{rows}.parquet"
                frame.to_parquet(path)
            suite = Path(tmp) / f"adult_{rows}.yaml"
            text = suite_text if rows == len(base) else suite_text.replace(  # resampled
                "  target: income\n", "  target: income\n  repeated_rows: independent\n")
            suite.write_text(text.replace("../examples/data/adult_test.csv.gz", str(path))
                             .replace("../examples", str(ROOT / "examples")))
            bare = bare_inference(frame, features, args.repeat)
            total, timings = gate_run(suite, args.repeat)
            perf = timings.get("performance", float("nan"))
            stages = ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
            print(f"{rows:>10,} {bare:>15.2f}s {total:>7.2f}s {perf:>11.2f}s "
                  f"{perf / bare:>9.2f}x  {stages}", flush=True)
            if rows == len(base):
                whole(suite, args.repeat)


if __name__ == "__main__":
    main()
