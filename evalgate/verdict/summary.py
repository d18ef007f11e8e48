"""summary.md: the decision and the checks that decided it, in Markdown for CI pages
(``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

from typing import Any

from .decide import IN_PROGRESS, NO_CHECKS, NO_DECISION
from .model import STATUSES


def summary_markdown(verdict: dict[str, Any], report: str | None = None) -> str:
    """A short Markdown summary for CI pages: the decision and the checks that decided it."""
    checks = [c for s in verdict["suites"] for c in s["checks"]]
    counts = {st: sum(c["status"] == st for c in checks) for st in STATUSES}
    icon = "✅" if verdict["decision"] == "promote" else "⛔"
    lines = [f"## {icon} evalgate: {verdict['decision'].upper()}", "",
             f"Candidate `{_md(verdict['candidate']['path'])}` "
             f"(sha256 `{(verdict['candidate'].get('sha256') or '')[:12]}`)"
             + (f" vs champion `{_md(verdict['champion']['path'])}`" if verdict.get("champion")
                else " — no champion"), "",
             f"{counts['pass']} passed · {counts['fail']} failed · {counts['error']} errors · "
             f"{counts['skip']} skipped", ""]
    bad = [c for c in checks if c["status"] in ("fail", "error")]
    if bad:
        lines += ["| check | status | why |", "| --- | --- | --- |"]
        lines += [f"| `{_md(c['id'])}` | {c['status']} | {_md(c['message'])[:300]} |"
                  for c in bad]
        lines.append("")
    for suite in verdict.get("suites", []):
        note = (suite.get("spending") or {}).get("note")
        if note:
            lines.append(f"- tries: {_md(suite.get('name'))} — {_md(note)}")
    for reason in gate_reasons(verdict):
        lines.append(f"- **{_md(reason)}**")
    not_run = verdict.get("summary", {}).get("not_run", [])
    lines += [f"- `{_md(check)}`: did not run" for check in not_run[:20]]
    if len(not_run) > 20:
        lines.append(f"- … and {len(not_run) - 20} more checks that did not run")
    if report:
        lines += ["", f"Full report: `{_md(report)}`"]
    return "\n".join(lines).rstrip() + "\n"


def gate_reasons(verdict: dict[str, Any]) -> list[str]:
    """The reasons that concern the run as a whole — partial, no blocking check decided, in
    progress — rather than one check (those are listed with their checks)."""
    heads = ("partial run:", NO_DECISION, NO_CHECKS, IN_PROGRESS)
    return [str(r) for r in verdict.get("summary", {}).get("reasons", [])
            if str(r).startswith(heads)]


def _md(text: Any) -> str:
    """Text safe inside a Markdown table cell or code span (no HTML, no pipes, one line)."""
    import html

    return html.escape(str(text)).replace("|", "\\|").replace("`", "'").replace("\n", " ")
