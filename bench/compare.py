"""The cost of several challengers in one run (``evalgate compare``) next to one challenger.

    python bench/compare.py [--challengers 5]

For the shipped suite (every family) and the quick suite (performance and bias), whole
processes, each timed once, in a fresh temporary folder (its own registry):

- ``one``: ``evalgate run CANDIDATE --champion CHAMPION`` — one challenger, the whole suite;
- ``many``: ``evalgate compare CHAMPION C1 … Ck`` — k challengers (variants of the shipped
  candidate whose predictions differ: :func:`variants`), the whole suite;
- ``extra``: the bare onnxruntime inference of the k − 1 extra models on the suite's rows
  (session creation included), in one process.

Printed: the three times and the target's ratio many / (one + extra) (issue 18: ≤ 1.5). The
timed families (latency, stress) measure each model for their declared durations, so they
grow with the number of models whatever is shared; the quick suite shows the rest.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CANDIDATE = ROOT / "examples/models/candidate.onnx"
CHAMPION = ROOT / "examples/models/champion.onnx"
EVALGATE = Path(sys.executable).parent / "evalgate"


def variants(folder: Path, k: int) -> list[Path]:
    """``k`` challengers that predict differently: the shipped trees candidate with its leaf
    weights scaled by 1, 1.05, 1.1, … (a sharper or flatter logit), so no two challengers
    share a prediction and nothing one challenger computes can serve another."""
    out = []
    for i in range(k):
        model = onnx.load(CANDIDATE)
        for node in model.graph.node:
            for attr in node.attribute:
                if node.op_type == "TreeEnsembleClassifier" and attr.name == "class_weights":
                    scaled = [w * (1 + 0.05 * i) for w in attr.floats]
                    del attr.floats[:]
                    attr.floats.extend(scaled)
        onnx.helper.set_model_props(model, {"variant": str(i)})
        path = folder / f"challenger-{i}.onnx"
        onnx.save(model, path)
        out.append(path)
    return out


def timed(args: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return elapsed


def bare(models: list[Path], suites: Path) -> float:
    """The inference of ``models`` on the suite's rows, session creation included."""
    from evalgate.data import load_dataset
    from evalgate.families import load_suite
    from evalgate.models import load_model

    suite = load_suite(suites)
    data = load_dataset(suite.data)
    t = time.perf_counter()
    for path in models:
        load_model(path).predict(data.frame, data.features)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--challengers", type=int, default=5)
    args = ap.parse_args()
    k = args.challengers
    for suites in (ROOT / "suites/adult.yaml", ROOT / "examples/suites/quick.yaml"):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            models = variants(folder, k)
            one = timed([str(EVALGATE), "run", str(models[0]), "--champion", str(CHAMPION),
                         "--suites", str(suites), "--report", "one"], folder)
            many = timed([str(EVALGATE), "compare", str(CHAMPION), *map(str, models),
                          "--suites", str(suites), "--report", "many"], folder)
            extra = bare(models[1:], suites)
        print(f"{suites.relative_to(ROOT)}: one challenger {one:.1f} s; {k} challengers "
              f"{many:.1f} s; bare inference of the {k - 1} extra models {extra:.2f} s; "
              f"many / (one + extra) = {many / (one + extra):.2f} (target ≤ 1.5)")


if __name__ == "__main__":
    main()
