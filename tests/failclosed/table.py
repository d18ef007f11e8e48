"""Summarise a corpus run: ``FC_CORPUS_LOG=log.jsonl pytest tests/failclosed``, then
``python -m tests.failclosed.table log.jsonl`` prints a Markdown table, one row per case."""

from __future__ import annotations

import json
import sys
from collections import Counter

LABELS = {
    "failed-open": "(a) failed open",
    "blocked-badly": "(b) blocked, badly",
    "crashed-before-assert": "(b) blocked, badly (case crashed)",
    "ok": "(c) already ok",
    "ok-no-helper": "(c) already ok",
    "control-ok": "control: ok",
    "control-failed": "control: FAILS",
}


def main(path: str) -> None:
    rows: dict[str, dict] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            entry = json.loads(line)
            rows[entry["case"]] = entry  # the last record of a case wins
    counts = Counter(LABELS.get(r["category"], r["category"]) for r in rows.values())
    print("| case | outcome | exit | what was wrong |")
    print("| --- | --- | --- | --- |")
    for case, r in rows.items():
        why = "; ".join(r["problems"])[:300].replace("|", "\\|")
        name = case.removeprefix("tests/failclosed/")
        print(f"| `{name}` | {LABELS.get(r['category'], r['category'])} | {r['ret']} | {why} |")
    print()
    for label, n in sorted(counts.items()):
        print(f"- {label}: {n}")
    print(f"- total: {len(rows)}")


if __name__ == "__main__":
    main(sys.argv[1])
