"""A model card from the registry and the verdicts alone:

    evalgate card NAME [--version N] [--out DIR]   → DIR/model-card.md and DIR/model-card.html

The sections follow the Model Card Toolkit and Hugging Face model cards where they overlap:
model details, intended use, training data, evaluation data, quantitative analysis (every
check's value with its interval; per-group results with the groups left out; robustness;
latency), the comparison with the champion it replaced, limitations (failed, inconclusive and
skipped checks, groups too small to judge), approvals with whether each signature verifies,
and the version history. The Markdown opens with a YAML front matter whose ``model-index``
holds the results, as Hugging Face reads them. Every number is the verdict's, written with
all its digits in the front matter and rounded to 4 significant places in the text.

Nothing is fetched: the HTML is one self-contained page (no script, font or image).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._io import write_atomic
from ..report import _num, _signed  # the report's numbers: one format in both

MD_NAME, HTML_NAME = "model-card.md", "model-card.html"


def card_data(registry: Any, number: int | None) -> dict[str, Any]:
    """What the card says, as JSON: the version's lineage (:func:`.lineage.chain`) and the
    verdict that promoted it (the latest), read back from ``verdicts/``."""
    from ..verdict.signoff import approvals_of, read_signoff, verification
    from .lineage import chain, read_verdict_doc

    found = chain(registry, number)
    verdict = None
    stored = (registry.verdicts_dir / f"{found['verdicts'][-1]['sha256']}.json"
              if found["verdicts"] else None)
    if stored is not None and stored.is_file():  # else the lineage says the link is broken
        sha = found["verdicts"][-1]["sha256"]
        raw = stored.read_bytes()
        # a stored verdict that is not the one its promotion recorded shows no number
        verdict = (read_verdict_doc(raw, stored)
                   if hashlib.sha256(raw).hexdigest() == sha else None)
        signoff = registry.verdicts_dir / f"{sha}.signoff.json"
        approvals = []
        if signoff.is_file():
            for a in approvals_of(read_signoff(signoff), sha):
                ok, why = verification(a)
                approvals.append({**{k: a.get(k) for k in ("reviewer", "role", "note",
                                                           "signed_at")},
                                  "verified": ok, "key": why})
        found["approvals"] = approvals
    else:
        found["approvals"] = []
    found["verdict"] = verdict
    found["versions"] = [{"version": v.number, "sha256": v.sha256, "created_at": v.created_at,
                          "author": v.lineage.get("author") or v.created_by,
                          "parent": v.lineage.get("derived_from")}
                         for v in registry.versions()]
    found["history"] = [dict(e.data) for e in registry.entries()
                        if e.data.get("action") in ("promote", "rollback")]
    found["checks"] = _checks(verdict)
    return found


def _checks(verdict: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every check of the verdict with its suite, for the quantitative analysis."""
    if verdict is None:
        return []
    return [{**c, "suite": s["name"]} for s in verdict["suites"] for c in s["checks"]]


def limitations(data: Mapping[str, Any]) -> list[str]:
    """What the card must say the evidence does not show: no verdict; each check that did not
    pass (failed, errored, skipped — an inconclusive comparison is a failure); each group
    left out of a bias check."""
    if data["verdict"] is None and data["verdicts"]:
        return ["The verdict that promoted this version is missing or is not the one its "
                "promotion recorded (see `evalgate lineage`): no number of it is shown."]
    if data["verdict"] is None:
        return ["This version was never promoted through the gate: no verdict backs it."]
    out = [f"{c['id']}: {c['status']} — {c['message']}" for c in data["checks"]
           if c["status"] != "pass"]
    seen = set()
    for c in data["checks"]:
        details = c.get("details") or {}
        if c["family"] != "bias" or not isinstance(details, Mapping):
            continue
        for g in details.get("groups") or ():
            key = (details.get("grouping"), g.get("group"))
            if g.get("left_out") and key not in seen:
                seen.add(key)
                out.append(f"{details.get('grouping')} = {g['group']}: too few rows to judge "
                           f"({g['left_out']}); no fairness claim is made for it")
    return out


def front_matter(data: Mapping[str, Any]) -> str:
    """YAML front matter (JSON is YAML): ``model-index`` with one result per suite, each
    metric with the verdict's value to all its digits."""
    results = []
    for s in (data["verdict"] or {}).get("suites", ()):
        metrics = [{"type": c["metric"], "name": c["id"], "value": c["candidate"],
                    "verified": c["status"] == "pass"}
                   for c in s["checks"] if c["family"] == "performance"
                   and isinstance(c["candidate"], (int, float))]
        results.append({"task": {"type": s.get("task")},
                        "dataset": {"name": (s.get("dataset") or {}).get("path"),
                                    "type": "evalgate-suite", "revision":
                                        (s.get("dataset") or {}).get("sha256")},
                        "metrics": metrics})
    meta = {"model_name": f"{data['name']} v{data['version']}",
            "library_name": "evalgate",
            "tags": ["evalgate", (data["model"] or {}).get("format")],
            "model-index": [{"name": f"{data['name']} v{data['version']}",
                             "results": results}]}
    return "---\n" + json.dumps(meta, indent=2, ensure_ascii=False) + "\n---\n"


def markdown(data: Mapping[str, Any]) -> str:
    """The card as Markdown, front matter first."""
    t, m, v = data["training"], data["model"], data["verdict"]
    lines = [front_matter(data), f"# Model card: {data['name']} v{data['version']}", "",
             "## Model details", "",
             f"- Version {data['version']} of `{data['name']}`: `{m['file']}` ({m['format']}, "
             f"sha256 `{m['sha256']}`), registered {t['created_at']} by {t['created_by']}",
             f"- Author: {t['author'] or t['created_by']}; parent: "
             f"{'v' + str(t['parent']) if t['parent'] else 'none'}; code commit: "
             f"{(t['code'] or {}).get('commit') or 'not recorded'}"
             + (f"; MLflow run: {t['mlflow_run']}" if t["mlflow_run"] else ""), "",
             "## Intended use", ""]
    descriptions = [s.get("resolved", {}).get("description") or s["name"]
                    for s in (v or {}).get("suites", ())]
    lines += [f"- {d}" for d in descriptions] or ["- not stated"]
    if t["notes"]:
        lines.append(f"- Notes: {t['notes']}")
    lines += ["", "## Training data", ""]
    d = t["data"]
    lines.append(f"- `{d['path']}`, sha256 `{d['sha256']}`"
                 + (f", {d['rows']:,} rows × {len(d['columns'])} columns" if d.get("rows")
                    is not None and d.get("columns") else "") if d else "- not recorded")
    lines += ["", "## Evaluation data", ""]
    for s in (v or {}).get("suites", ()):
        ds = s.get("dataset") or {}
        lines.append(f"- Suite `{s['name']}` (`{s['file']}`): `{ds.get('path')}`, "
                     f"{ds.get('rows') or 0:,} rows, sha256 `{ds.get('sha256')}`, judged "
                     f"{(v.get('provenance') or {}).get('started_at')}")
    lines += ["", "## Quantitative analysis", "",
              "| Check | Status | Value | Interval | Champion | Δ | Δ's bound |",
              "|---|---|---|---|---|---|---|"]
    for c in data["checks"]:
        ci = c.get("ci") or [None, None]
        lines.append(f"| `{c['id']}` | {c['status']} | {_num(c['candidate'])} | "
                     f"{_interval(c)} | {_num(c['champion'])} | {_signed(c['delta'])} | "
                     f"{_signed(ci[0]) if c['delta'] is not None else '—'} |")
    lines += ["", "## Limitations", ""]
    lines += [f"- {x}" for x in limitations(data)] or ["- none found by the gate"]
    lines += ["", "## Approvals", ""]
    lines += [f"- {a['reviewer']}{' (' + a['role'] + ')' if a['role'] else ''}, "
              f"{a['signed_at']}: " + _verified(a) for a in data["approvals"]] or ["- none"]
    lines += ["", "## Version history", ""]
    lines += [f"- v{x['version']} {x['created_at']} by {x['author']}, sha256 "
              f"`{x['sha256'][:12]}…`" for x in data["versions"]]
    lines += [f"- #{e.get('seq')} {e.get('at')} {e.get('action')}: "
              f"{'v' + str(e['from']) if e.get('from') else '-'} → v{e.get('version')}"
              for e in data["history"]]
    return "\n".join(lines) + "\n"


#: where a family's details keep the candidate's own interval of its value
_OWN_INTERVALS = ("candidate_ci", "flip_rate_ci", "violation_rate_ci")


def candidate_interval(c: Mapping[str, Any]) -> tuple[Any, Any] | None:
    """The candidate's own interval of the check's value: the performance and bias
    ``candidate_ci``, robustness's flip or violation rate interval, drift's ``lower …
    upper``; ``None`` where the check has none (latency, stress)."""
    details = c.get("details")
    if not isinstance(details, Mapping):
        return None
    for key in _OWN_INTERVALS:
        if details.get(key):
            return details[key][0], details[key][1]
    if c.get("family") == "drift" and "lower" in details and "upper" in details:
        return details["lower"], details["upper"]
    return None


def _interval(c: Mapping[str, Any]) -> str:
    ci = candidate_interval(c)
    return "—" if ci is None else f"[{_num(ci[0])}, {_num(ci[1])}]"


def _verified(a: Mapping[str, Any]) -> str:
    if a["verified"] is None:
        return "unsigned"
    return f"signature verifies (key {a['key']})" if a["verified"] else \
        f"signature does NOT verify: {a['key']}"


def write_card(registry: Any, number: int | None, out: Path) -> tuple[Path, Path, bool]:
    """Write the Markdown and the HTML card into ``out``; returns both paths and whether
    every link of the lineage holds (a card is written either way, saying which broke)."""
    from ..report import _environment

    data = card_data(registry, number)
    md, html = out / MD_NAME, out / HTML_NAME
    write_atomic(md, markdown(data))
    page = _environment().get_template("card.html.j2").render(
        d=data, limitations=limitations(data), own=candidate_interval)
    write_atomic(html, page)
    return md, html, bool(data["ok"])
