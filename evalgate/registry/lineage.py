"""A version's lineage: training data → model → verdicts (with their suites and data) →
sign-offs → promotions and rollbacks → monitoring, read from what the registry already keeps
(``version.json``, the audit log, ``verdicts/``, ``monitor.jsonl``) — and each link checked.

    evalgate register MODEL --name N [--data D] [--params P.json] [--code-commit SHA]
                      [--parent N] [--author A] [--mlflow-run ID]
    evalgate lineage NAME[@N] [--json]

A link is *broken* when the bytes do not agree with what the chain records: the audit log's
hash chain or a version's file (``evalgate audit verify``), a stored verdict whose sha256 is
not the one its promotion recorded or that judged other model bytes, a sign-off bound to
another verdict, a monitoring log whose chain is cut or whose entry names a verdict that
never promoted this version. ``lineage`` prints the chain and exits 1 on a broken link.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import RegistryError

#: what ``--code-commit`` accepts: an abbreviated or full git commit
COMMIT = re.compile(r"[0-9a-fA-F]{7,64}")


def training_record(*, params: Path | None = None, code_commit: str | None = None,
                    author: str | None = None, mlflow_run: str | None = None,
                    folder: Path | None = None) -> dict[str, Any]:
    """What ``register`` records of how a model was made, besides its data: the
    hyperparameters (a JSON object, and its file's sha256), the code commit (given, else the
    git commit of ``folder`` and whether its work tree was dirty), the author and the MLflow
    run."""
    from ..verdict.evidence import git_state

    record: dict[str, Any] = {"params": None, "code": None, "author": author,
                              "mlflow_run": mlflow_run}
    if params is not None:
        try:
            raw = params.read_bytes()
            values = json.loads(raw)
        except OSError as exc:
            raise RegistryError(f"{params}: cannot read the parameters: "
                                f"{exc.strerror or exc}") from None
        except ValueError as exc:
            raise RegistryError(f"{params}: the parameters are not JSON: {exc}") from None
        if not isinstance(values, dict):
            raise RegistryError(f"{params}: the parameters must be a JSON object "
                                f"(name: value), not a {type(values).__name__}")
        record["params"] = {"path": str(params), "sha256": hashlib.sha256(raw).hexdigest(),
                            "values": values}
    if code_commit is not None:
        if not COMMIT.fullmatch(code_commit):
            raise RegistryError(f"--code-commit {code_commit!r}: not a git commit (7 to 64 "
                                "hexadecimal digits)")
        record["code"] = {"commit": code_commit.lower(), "source": "given"}
    elif folder is not None:
        state = git_state(folder)
        if state is not None:
            record["code"] = {"commit": state["commit"], "dirty": state["dirty"],
                              "source": "git"}
    return record


def chain(registry: Any, number: int | None) -> dict[str, Any]:
    """The lineage of version ``number`` of ``registry`` (a :class:`~.local.ModelRegistry`;
    default: the champion) as JSON, with ``links``: each link checked (``ok`` and, when
    broken, ``problem``)."""
    from .references import CHAMPION

    state = registry.state()
    if number is None:
        number = state.aliases.get(CHAMPION)
        if number is None:
            raise RegistryError(f"{registry.name} has no champion: name a version "
                                f"({registry.name}@N)")
    version = registry.version(number)
    check = registry.verify()
    links: list[dict[str, Any]] = [_link("audit log and version files", *check.problems)]
    events = [dict(e.data) for e in registry.entries()
              if number in (e.data.get("version"), e.data.get("from"))
              and e.data.get("action") in ("register", "promote", "rollback", "alias")]
    verdicts, more = _verdicts(registry, version, events)
    links += more
    anchor = next((e.data.get("log") for e in reversed(registry.entries())
                   if e.data.get("action") == "monitor"), None)
    monitoring, more, notes = _monitoring(registry, number, {v["sha256"] for v in verdicts},
                                          anchor)
    links += more
    lineage = version.lineage
    return {"name": registry.name, "version": number,
            "training": {"data": lineage.get("data"), "params": lineage.get("params"),
                         "code": lineage.get("code"), "author": lineage.get("author"),
                         "mlflow_run": lineage.get("mlflow_run"),
                         "parent": lineage.get("derived_from"),
                         "created_at": version.created_at, "created_by": version.created_by,
                         "notes": version.notes},
            "model": {"file": version.file, "sha256": version.sha256, "format": version.format,
                      "size": version.size, "inputs": version.inputs},
            "verdicts": verdicts,
            "events": [{k: e.get(k) for k in ("seq", "at", "action", "alias", "from",
                                              "version", "user", "reason") if k in e}
                       for e in events],
            "monitoring": monitoring,
            "links": links, "notes": [*check.notes, *notes],
            "ok": all(link["ok"] for link in links)}


def _link(name: str, *problems: str) -> dict[str, Any]:
    return {"link": name, "ok": not problems,
            **({"problem": "; ".join(problems)} if problems else {})}


def _verdicts(registry: Any, version: Any, events: list[dict[str, Any]]
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each verdict that promoted ``version``: read from ``verdicts/``, its bytes checked
    against the sha256 its promotion recorded, its candidate against the version's bytes,
    its sign-off against its sha256."""
    found, links = [], []
    for e in events:
        if e.get("action") != "promote" or e.get("version") != version.number:
            continue
        sha = (e.get("verdict") or {}).get("sha256")
        path = registry.verdicts_dir / f"{sha}.json"
        entry: dict[str, Any] = {"sha256": sha, "promoted_at": e.get("at"), "suites": [],
                                 "signoff": e.get("signoff"), "decision": None}
        name = f"verdict {str(sha)[:12]}… → v{version.number}"
        if not path.is_file():
            links.append(_link(name, f"{path} is missing"))
            found.append(entry)
            continue
        raw = path.read_bytes()
        problems = []
        if hashlib.sha256(raw).hexdigest() != sha:
            problems.append(f"{path} does not hold the verdict the promotion recorded "
                            f"(sha256 {hashlib.sha256(raw).hexdigest()[:12]}…)")
        doc = read_verdict_doc(raw, path)
        if doc is None:
            problems.append(f"{path} is not a readable verdict")
        else:
            if (doc.get("candidate") or {}).get("sha256") != version.sha256:
                problems.append("the verdict judged other model bytes than the version's")
            entry.update(decision=doc.get("decision"),
                         suites=[_suite(s) for s in doc["suites"]],
                         started_at=(doc.get("provenance") or {}).get("started_at"),
                         git=(doc.get("provenance") or {}).get("git"))
        links.append(_link(name, *problems))
        signoff = path.with_name(f"{sha}.signoff.json")
        if signoff.is_file():
            from ..verdict.signoff import read_signoff

            bound = (read_signoff(signoff) or {}).get("verdict_sha256")
            links.append(_link(f"sign-off → verdict {str(sha)[:12]}…",
                               *([] if bound == sha else ["the sign-off is bound to another "
                                                          f"verdict ({str(bound)[:12]}…)"])))
        found.append(entry)
    return found, links


def read_verdict_doc(raw: bytes, path: Path) -> dict[str, Any] | None:
    """A stored verdict read by the one verdict reader, or ``None`` when it is not one."""
    from ..errors import VerdictError
    from ..verdict.model import parse

    try:
        doc, _ = parse(raw, path)
    except VerdictError:
        return None
    return doc


def _suite(s: Mapping[str, Any]) -> dict[str, Any]:
    data = s.get("dataset") or {}
    return {"name": s["name"], "file": s["file"], "sha256": s["sha256"],
            "data": {"path": data.get("path"), "sha256": data.get("sha256"),
                     "rows": data.get("rows")},
            "checks": len(s["checks"]),
            "failed": sum(c["status"] in ("fail", "error") for c in s["checks"])}


def _monitoring(registry: Any, number: int, verdicts: set[str], anchor: Any
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """The monitoring runs of version ``number``, the log checked (its own chain, and its end
    against the audit log's anchor), and notes."""
    from .monitoring import MONITOR_LOG, anchor_problems, chain_problems

    log = registry.dir / MONITOR_LOG
    problems, notes = anchor_problems(log, anchor)
    if not log.is_file():
        return [], ([_link("monitoring log", *problems)] if problems else []), notes
    lines = log.read_bytes().splitlines()
    problems += chain_problems(log, lines)
    runs = []
    for i, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except ValueError:
            break  # said by chain_problems
        if entry.get("version") != number:
            continue
        if entry.get("verdict") not in verdicts:
            problems.append(f"{log}:{i}: names verdict {str(entry.get('verdict'))[:12]}…, "
                            f"which did not promote v{number}")
        runs.append({"at": entry.get("at"), "data": entry.get("data"),
                     "alerts": entry.get("alerts") or []})
    return runs, [_link("monitoring log", *problems)], notes


def lines(found: Mapping[str, Any]) -> list[str]:
    """The chain as the terminal shows it, one line per link, then whether it holds."""
    t = found["training"]
    out = [f"{found['name']} v{found['version']}"]
    data = t["data"]
    if data is not None:
        shape = (f"  {data['rows']:,} rows × {len(data['columns'])} columns"
                 if data.get("rows") is not None and data.get("columns") else "")
        out.append(f"  training data  {data['path']}  sha256 {data['sha256'][:12]}…{shape}")
    else:
        out.append("  training data  not recorded (register --data)")
    if t["params"] is not None:
        values = ", ".join(f"{k}={v}" for k, v in list(t["params"]["values"].items())[:6])
        out.append(f"  params         {t['params']['path']}  sha256 "
                   f"{t['params']['sha256'][:12]}…  {values}")
    code = t["code"]
    made = [f"commit {code['commit'][:12]}" + (" (dirty)" if code.get("dirty") else "")
            if code else "commit not recorded",
            f"author {t['author'] or t['created_by']}",
            f"parent {'v' + str(t['parent']) if t['parent'] else '-'}"]
    if t["mlflow_run"]:
        made.append(f"mlflow run {t['mlflow_run']}")
    out.append("  made           " + "  ".join(made))
    m = found["model"]
    out.append(f"  model          {m['file']}  sha256 {m['sha256'][:12]}…  {m['format']}  "
               f"registered {t['created_at']} by {t['created_by']}")
    for v in found["verdicts"]:
        out.append(f"  verdict        {str(v['sha256'])[:12]}…  {v['decision']}  "
                   f"promoted {v['promoted_at']}")
        for s in v["suites"]:
            out.append(f"    suite        {s['name']} ({s['file']}, sha256 "
                       f"{str(s['sha256'])[:12]}…) on {s['data']['path']} "
                       f"({s['data']['rows']:,} rows, sha256 "
                       f"{str(s['data']['sha256'])[:12]}…): {s['checks']} checks, "
                       f"{s['failed']} failed")
        signoff = v["signoff"] or {}
        for a in signoff.get("approvals") or ([signoff] if signoff else []):
            role = f" ({a['role']})" if a.get("role") else ""
            key = f", signed with key {a['key_id']}" if a.get("key_id") else ""
            out.append(f"    signed off   by {a.get('reviewer')}{role} at "
                       f"{a.get('signed_at')}{key}")
    for e in found["events"]:
        before = f"v{e['from']}" if e.get("from") is not None else "-"
        after = f"v{e['version']}" if e.get("version") is not None else "(removed)"
        move = (f"v{e['version']}" if e.get("action") == "register" else
                f"{e.get('alias')}: {before} → {after}")
        reason = f"  reason: {e['reason']}" if e.get("reason") else ""
        out.append(f"  #{e.get('seq', '?'):<3} {e.get('at')}  {e.get('action'):<9} {move}  "
                   f"by {e.get('user')}{reason}")
    for r in found["monitoring"]:
        said = f"ALERT {', '.join(r['alerts'])}" if r["alerts"] else "no alert"
        out.append(f"  monitored      {r['at']}  {r['data']['path']} ({r['data']['rows']:,} "
                   f"rows): {said}")
    out += [f"note: {note}" for note in found["notes"]]
    for link in found["links"]:
        if not link["ok"]:
            out.append(f"BROKEN: {link['link']}: {link['problem']}")
    checked = len(found["links"])
    out.append(f"lineage of {found['name']} v{found['version']}: "
               + (f"OK ({checked} links checked)" if found["ok"] else
                  f"{sum(not x['ok'] for x in found['links'])} broken link(s)"))
    return out
