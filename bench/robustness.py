"""Time the robustness family next to the bare inference of the rows it perturbs.

    python bench/robustness.py [--rows 100000] [--repeat 5]

Data: --rows drawn with replacement (seed 0) from the shipped Adult test split, as Parquet.
Suite: five perturbations (gaussian_noise, missing_values, category_swap, outliers, shuffle)
gated by max_flip_rate, max_regression {roc_auc, log_loss} and max_flip_rate_increase, so
every measure runs: flips with Wilson intervals, paired flips against the champion
(Newcombe), DeLong and paired-t intervals of the metric drop.

- "bare": onnxruntime's ``run`` of both models on ready-made input tensors of the five
  perturbed frames (ZipMap removed, as evalgate runs them), the floor any implementation pays;
- "adapters": the same predictions through evalgate's model adapters (input tensors built
  from the frames), for reference;
- "family": the robustness stage of evalgate's run of that suite (perturbing, feeding and
  predicting both models on each perturbed frame once, every measure and interval).

All three use the same loaded sessions, interleaved, best of --repeat (a shared machine's
load swings single runs a lot); the figure is family / bare (the issue asks for at most 1.5x).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalgate.data import encode_target, load_dataset  # noqa: E402
from evalgate.engine import Gate  # noqa: E402
from evalgate.families import EvalContext, load_suite  # noqa: E402
from evalgate.families.robustness.perturbations import perturbed_frame  # noqa: E402

CANDIDATE = ROOT / "examples/models/candidate.onnx"
CHAMPION = ROOT / "examples/models/champion.onnx"
DATA = ROOT / "examples/data/adult_test.csv.gz"

SUITE = """\
suite: adult-robustness-bench
task: binary
data:
  path: {data}
  target: income
  positive_label: ">50K"
  repeated_rows: independent  # resampled with replacement: by design
champion: {champion}
seed: 0
checks:
  robustness:
    perturbations:
      gaussian_noise: {{columns: [age, education-num, hours-per-week], scale: 0.1}}
      missing_values: {{columns: [workclass, occupation], rate: 0.1}}
      category_swap:  {{columns: [workclass, occupation, marital-status], rate: 0.1}}
      outliers:       {{columns: [capital-gain, capital-loss], rate: 0.01}}
      shuffle:        {{columns: [native-country]}}
    max_flip_rate: 1.0
    max_regression: {{roc_auc: 1.0, log_loss: 10.0}}
    max_flip_rate_increase: 1.0
"""


class Bare:
    """onnxruntime's ``run`` of both models on ready-made input tensors of the frames, in
    the very sessions the gate uses."""

    def __init__(self, gate: Gate, frames: list[pd.DataFrame], features: list[str]):
        self.jobs = []
        for m in (gate.model(p) for p in (CANDIDATE, CHAMPION)):
            m._bind(features)
            names = [o.name for o in m._session.get_outputs()]
            self.jobs += [(m._session, names, m._feed(f, features))
                          for f in frames]

    def __call__(self) -> float:
        t = time.perf_counter()
        for session, names, feed in self.jobs:
            session.run(names, feed)
        return time.perf_counter() - t


def adapters(gate: Gate, frames: list[pd.DataFrame], features: list[str]) -> float:
    """The same predictions through evalgate's model adapters (input tensors built from the
    frames), without any robustness work."""
    t = time.perf_counter()
    for m in (gate.model(p) for p in (CANDIDATE, CHAMPION)):
        for f in frames:
            m.predict(f, features)
    return time.perf_counter() - t


def family(gate: Gate, suite_path: Path) -> tuple[float, float, dict[str, str]]:
    """The robustness stage and the whole run of the suite, and each check's status (the
    perturbed predictions are made afresh on every run; only the loaded models are kept)."""
    suite = load_suite(suite_path)
    t = time.perf_counter()
    outcome = gate.run_suite(suite)
    elapsed = time.perf_counter() - t
    assert outcome.error is None, outcome.error
    statuses = {r.name: r.status for r in outcome.results if r.family == "robustness"}
    assert set(statuses.values()) == {"pass"}, [r.message for r in outcome.results]
    return outcome.timings["robustness"], elapsed, statuses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    base = pd.read_csv(DATA)
    idx = np.random.default_rng(0).integers(0, len(base), size=args.rows)
    frame = base.iloc[idx].reset_index(drop=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / f"adult_{args.rows}.parquet"
        frame.to_parquet(data)
        suite_path = Path(tmp) / "suite.yaml"
        suite_path.write_text(SUITE.format(data=data, champion=CHAMPION))
        suite = load_suite(suite_path)
        dataset = load_dataset(suite.data)
        features = list(dataset.features)
        # the very frames the family perturbs (same seeds), for the bare inference
        ctx = EvalContext(suite=suite, target=encode_target(dataset, "binary", ">50K"),
                          candidate=None, champion=None, data=dataset)  # type: ignore[arg-type]
        spec = suite.families["robustness"]
        frames = [perturbed_frame(ctx, p)[0] for p in spec.perturbations]
        gate = Gate(CANDIDATE)  # one gate: the same (warm) sessions for all three
        bare_run = Bare(gate, frames, features)
        bare = via_adapters = fam = whole = np.inf
        for _ in range(args.repeat):  # interleaved, so that all three see the same load
            bare = min(bare, bare_run())
            via_adapters = min(via_adapters, adapters(gate, frames, features))
            f, w, statuses = family(gate, suite_path)
            fam, whole = min(fam, f), min(whole, w)
    print(f"rows {args.rows:,}; perturbations {', '.join(statuses)}; both models; "
          f"best of {args.repeat}")
    print(f"bare inference of the perturbed rows (2 models x {len(frames)} frames): "
          f"{bare:.2f}s")
    print(f"the same through evalgate's model adapters (feeds built):        "
          f"{via_adapters:.2f}s")
    print(f"robustness family (perturb + predict + every measure):        {fam:.2f}s")
    print(f"family / bare: {fam / bare:.2f}x   (family / adapters: {fam / via_adapters:.2f}x; "
          f"whole gate run of the suite: {whole:.2f}s)")


if __name__ == "__main__":
    main()
