"""Size and render time of the HTML report for the shipped Adult suite.

    python bench/report.py [--repeat 5]

Runs the shipped gate once (examples/, suites/adult.yaml) into a temporary folder, then times
rendering the report from verdict.json alone (best of --repeat) and prints its size.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalgate.engine import Gate, evaluate_paths  # noqa: E402
from evalgate.output import finish  # noqa: E402
from evalgate.report import render  # noqa: E402
from evalgate.verdict import now  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    candidate = ROOT / "examples/models/candidate.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = evaluate_paths(Gate(candidate), [ROOT / "suites/adult.yaml"])
        written = finish(outcomes, candidate=candidate, report_dir=Path(tmp), seed=None,
                         started_at=now(), duration_s=0.0)
        verdict = json.loads(written.verdict_path.read_text())
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            html = render(verdict)
            best = min(best, time.perf_counter() - t)
        same = render(verdict) == html
        print(f"report: {len(html.encode()):,} bytes ({len(html.encode()) / 2**20:.2f} MB), "
              f"render {best * 1000:.0f} ms (best of {args.repeat}), deterministic: {same}; "
              f"verdict.json {written.verdict_path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
