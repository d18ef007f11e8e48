"""The false-pass rate and the coverage of evalgate's comparisons, by simulation with a known
truth, in the regimes users meet (the regime modules of ``bench/sim/``).

    python bench/coverage.py [--reps N] [--only MODULE …] [--jobs 2] [--markdown]

Each cell is one regime at one setting. At a true Δ of exactly −margin every pass is a false
pass: the pass share must stay at most 6.5% (nominal 5%, plus Monte Carlo room) wherever the
method claims to support the setting, and be 0 where it does not (those cells must come out
inconclusive). Printed per cell: the false-pass (pass) rate with its exact 95% Monte Carlo
interval, the share reported inconclusive, and the coverage of the one-sided bound
(lower ≤ true Δ). Exit status 1 when a cell breaks its line.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from sim import MAX_FALSE_PASS, Result, all_cells, run  # noqa: E402


def _one(args: tuple[list[str], int, int | None, int]) -> tuple[int, int, int, int, int]:
    """One cell's counts (the cell itself holds closures, so it is rebuilt, not sent)."""
    only, index, reps, seed = args
    r = run(all_cells(only)[index], reps, seed)
    return index, r.reps, r.passes, r.inconclusive, r.covered


def row(r: Result, markdown: bool) -> str:
    lo, hi = r.interval()
    inc = r.inconclusive / r.reps
    cov = r.covered / r.reps
    flag = ("  (shown: the inflation a verdict warns of)" if r.cell.shown else
            "" if r.ok else "  ← over the line" if r.cell.supported else "  ← passed unsupported")
    cells = [r.cell.regime, r.cell.label, f"{r.cell.truth:+.4f}", f"{r.reps}",
             f"{r.false_pass:.3f} [{lo:.3f}, {hi:.3f}]", f"{inc:.3f}", f"{cov:.3f}"]
    if markdown:
        return "| " + " | ".join(cells) + " |" + flag
    return (f"{cells[0]:<34} {cells[1]:<38} {cells[2]:>8} {cells[3]:>5} {cells[4]:>22} "
            f"{cells[5]:>6} {cells[6]:>6}{flag}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=None,
                    help="replications per cell (default: each cell's own, ≥ 1000)")
    ap.add_argument("--only", nargs="*", default=[], help="regime modules of bench/sim/")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args(argv)
    cells = all_cells(args.only)
    started = time.perf_counter()
    head = ["regime", "setting", "true Δ", "reps", "pass rate [95% MC]", "inconc.", "cover"]
    if args.markdown:
        print("| " + " | ".join(head) + " |\n|" + " --- |" * len(head))
    else:
        print(f"{head[0]:<34} {head[1]:<38} {head[2]:>8} {head[3]:>5} {head[4]:>22} "
              f"{head[5]:>6} {head[6]:>6}")
    ok = True
    jobs = [(args.only, i, args.reps, args.seed) for i in range(len(cells))]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for index, reps, passes, inconclusive, covered in pool.map(_one, jobs):
            result = Result(cells[index], reps, passes, inconclusive, covered)
            ok &= result.ok
            print(row(result, args.markdown), flush=True)
    print(f"\n{len(cells)} cells in {time.perf_counter() - started:.0f} s; line: false pass ≤ "
          f"{MAX_FALSE_PASS:.1%} where supported, none where not — "
          f"{'every cell within it' if ok else 'CELLS OVER THE LINE'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
