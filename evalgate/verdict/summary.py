"""summary.md: the decision and the checks that decided it, in Markdown for CI pages
(``$GITHUB_STEP_SUMMARY``) — plain text, readable raw as well as rendered: no HTML entities,
Markdown's own characters backslash-escaped, long messages cut at a word."""

from __future__ import annotations

import math
import re
from typing import Any

from .decide import IN_PROGRESS, NO_CHECKS, NO_DECISION
from .model import STATUSES

#: the longest message a table cell shows (cut at a word, with an ellipsis)
CELL_CHARS = 300
#: the checks that did not run listed one by one
NOT_RUN_LISTED = 20


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 error``, ``2 errors`` (``many`` where adding an s is wrong)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def summary_markdown(verdict: dict[str, Any], report: str | None = None) -> str:
    """A short Markdown summary for CI pages: the decision, the run's flags, the checks that
    decided it and, collapsed, every check with its numbers."""
    checks = [c for s in verdict["suites"] for c in s["checks"]]
    counts = {st: sum(c["status"] == st for c in checks) for st in STATUSES}
    icon = "✅" if verdict["decision"] == "promote" else "⛔"
    champion = verdict.get("champion")
    lines = [f"## {icon} evalgate: {verdict['decision'].upper()}", "",
             f"Candidate {_code(verdict['candidate']['path'])} "
             f"(sha256 {_code((verdict['candidate'].get('sha256') or '')[:12])})"
             + (f" vs champion {_code(champion['path'])}" if champion else " — no champion"),
             "", f"{counts['pass']} passed · {counts['fail']} failed"
                 f"{_not_blocking(checks, 'fail')} · {plural(counts['error'], 'error')}"
                 f"{_not_blocking(checks, 'error')} · {counts['skip']} skipped", ""]
    lines += [f"> **{flag}**" for flag in flags(verdict)]
    if lines[-1] != "":
        lines.append("")
    bad = [c for c in checks if c["status"] in ("fail", "error")]
    if bad:
        lines += ["| check | status | why |", "| --- | --- | --- |"]
        lines += [f"| {_code(c['id'], table=True)} | {status(c)} | "
                  f"{_text(clip(c['message']))} |" for c in bad]
        lines.append("")
    for suite in verdict.get("suites", []):
        note = (suite.get("spending") or {}).get("note")
        if note:
            lines.append(f"- tries: {_text(suite.get('name'))} — {_text(note)}")
    for reason in gate_reasons(verdict):
        lines.append(f"- **{_text(reason)}**")
    not_run = verdict.get("summary", {}).get("not_run", [])
    lines += [f"- {_code(check)}: did not run" for check in not_run[:NOT_RUN_LISTED]]
    if len(not_run) > NOT_RUN_LISTED:
        lines.append(f"- … and {plural(len(not_run) - NOT_RUN_LISTED, 'more check')} that "
                     f"did not run")
    if checks:
        lines += ["", *all_checks(checks)]
    if report:
        lines += ["", f"Full report: {_code(report)}"]
    return "\n".join(lines).rstrip() + "\n"


def status(check: dict[str, Any]) -> str:
    """A check's status, ``fail (non-blocking)`` where a failure or error does not block —
    why a FAIL stands beside PROMOTE."""
    bad = check["status"] in ("fail", "error") and check.get("blocking") is False
    return f"{check['status']} (non-blocking)" if bad else str(check["status"])


def _not_blocking(checks: list[dict[str, Any]], state: str) -> str:
    """`` (n non-blocking)`` of the checks in ``state`` (`` (non-blocking)`` when all are)."""
    total = sum(c["status"] == state for c in checks)
    free = sum(c["status"] == state and c.get("blocking") is False for c in checks)
    if not free:
        return ""
    return " (non-blocking)" if free == total else f" ({free} non-blocking)"


def flags(verdict: dict[str, Any]) -> list[str]:
    """What a reader must know about the run before its checks: a partial run, a first
    release (no champion: nothing was compared)."""
    out = []
    summary = verdict.get("summary", {})
    not_run = summary.get("not_run", [])
    if summary.get("complete") is False or not_run:
        out.append(f"Partial run: {plural(len(not_run), 'check')} did not run — a partial run "
                   f"never promotes")
    if not verdict.get("champion"):
        out.append("First release: no champion, so no comparison was made — the value "
                   "thresholds alone decided")
    return out


def all_checks(checks: list[dict[str, Any]]) -> list[str]:
    """Every check with its numbers, in a collapsed ``<details>`` block."""
    rows = ["<details>", f"<summary>All {plural(len(checks), 'check')}</summary>", "",
            "| check | status | candidate | champion | Δ | bound | method |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for c in checks:
        rows.append(f"| {_code(c['id'], table=True)} | {status(c)} | "
                    f"{_num(c.get('candidate'))} | {_num(c.get('champion'))} | "
                    f"{_num(c.get('delta'), signed=True)} | {_num(_bound(c))} | "
                    f"{_text(c.get('method') or '')} |")
    return [*rows, "", "</details>"]


def _bound(check: dict[str, Any]) -> float | None:
    """The bound that decided: Δ's lower bound when there is a Δ, else the candidate's bound
    on its bad side."""
    ci: list[float | None] = list(check.get("ci") or ())
    lower, upper, *_ = [*ci, None, None]
    if check.get("delta") is not None:
        return lower
    return lower if lower is not None else upper


def _num(x: Any, signed: bool = False) -> str:
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return ""
    if not math.isfinite(x):
        return "−∞" if x < 0 else "∞"
    return f"{x:+.4g}" if signed else f"{x:.4g}"


def clip(text: Any, limit: int = CELL_CHARS) -> str:
    """``text`` on one line, cut at the last word that fits ``limit`` characters with an
    ellipsis (never inside a word)."""
    one = " ".join(str(text).split())
    if len(one) <= limit:
        return one
    cut = one[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:—") + " …"


def gate_reasons(verdict: dict[str, Any]) -> list[str]:
    """The reasons that concern the run as a whole — partial, no blocking check decided, in
    progress — rather than one check (those are listed with their checks)."""
    heads = ("partial run:", NO_DECISION, NO_CHECKS, IN_PROGRESS)
    return [str(r) for r in verdict.get("summary", {}).get("reasons", [])
            if str(r).startswith(heads)]


#: characters Markdown (or the HTML it lets through) reads as syntax: escaped with a backslash
_SYNTAX = re.compile(r"([\\`*_\[\]<>&|#~!])")


def _text(text: Any) -> str:
    """Plain text for Markdown, one line: every character that Markdown or HTML would read as
    syntax backslash-escaped (so ``<b>`` shows as ``<b>``, not bold, and nothing becomes
    ``&lt;``)."""
    return _SYNTAX.sub(r"\\\1", " ".join(str(text).split()))


def _code(text: Any, table: bool = False) -> str:
    """``text`` as a code span, which shows its characters as they are (HTML included); a
    backtick in it widens the fence, and in a table cell a pipe is escaped (GFM reads it as a
    cell edge even there)."""
    one = " ".join(str(text).split())
    if table:
        one = one.replace("|", "\\|")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", one)), default=0) + 1)
    pad = " " if one.startswith("`") or one.endswith("`") else ""
    return f"{fence}{pad}{one}{pad}{fence}"
