"""The release lifecycle on the model registry (:mod:`evalgate.registry`): register, promote,
rollback, alias, history, audit, keygen, registry init."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from . import on_mlflow
from .common import project, version_number


def add_parsers(sub: Any) -> None:
    def add(name: str, help: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help)
        parser.add_argument("--registry", type=Path, default=None, metavar="DIR",
                            help="the registry folder (default: [tool.evalgate] registry, or "
                                 "registry/)")
        return parser

    reg = add("register", "store a model file as the next version of NAME")
    reg.add_argument("model", type=Path, help="the model file (.onnx, .skops, …)")
    reg.add_argument("--name", required=True, help="the model's name in the registry")
    reg.add_argument("--data", type=Path, default=None,
                     help="the training data (file or folder), fingerprinted into the lineage")
    reg.add_argument("--notes", default="", help="free text kept with the version")
    _lineage_options(reg)
    reg.add_argument("--alias", action="append", default=[], metavar="ALIAS",
                     help="also point this alias at the version (not champion; repeatable)")

    pro = add("promote", "make CANDIDATE the champion, if its verdict allows it")
    pro.add_argument("candidate", type=Path, help="the candidate model file the verdict judged")
    pro.add_argument("--verdict", type=Path, default=None,
                     help="the gate's verdict.json (default: reports/verdict.json)")
    pro.add_argument("--name", default=None,
                     help="the model's name (default: inferred from the verdict's champion)")
    pro.add_argument("--to", default=None, metavar="REGISTRY:NAME",
                     help="where to promote: registry:NAME (the local registry) or mlflow:NAME")
    pro.add_argument("--require-signed", action="append", default=[], type=Path,
                     metavar="PUBKEY",
                     help="refuse a verdict not signed by this public key (PEM; repeatable: "
                          "any one of them), on top of what the registry requires")

    rb = add("rollback", "move champion back to an earlier champion")
    rb.add_argument("name", help="the model's name")
    rb.add_argument("--to", type=version_number, default=None, metavar="VERSION",
                    help="the version to restore (default: the previous champion)")
    rb.add_argument("--reason", default="", help="why, for the audit log")

    al = add("alias", "point an alias other than champion at a version (or remove it)")
    al.add_argument("name", help="the model's name")
    al.add_argument("alias", help="the alias (e.g. staging)")
    al.add_argument("version", type=version_number, nargs="?", default=None,
                    help="the version it names")
    al.add_argument("--delete", action="store_true", help="remove the alias")

    lin = add("lineage", "training data → model → verdicts → sign-offs → promotions → "
                         "monitoring, each link checked")
    lin.add_argument("name", help="NAME (the champion) or NAME@N")
    lin.add_argument("--json", action="store_true", help="print JSON")

    card = add("card", "write model-card.md and model-card.html from the registry and verdicts")
    card.add_argument("name", help="the model's name")
    card.add_argument("--version", type=version_number, default=None, metavar="N",
                      help="the version (default: the champion)")
    card.add_argument("--out", type=Path, default=None, metavar="DIR",
                      help="where the card goes (default: [tool.evalgate] report, or reports/)")

    hist = add("history", "versions, aliases over time and each promotion's metrics")
    hist.add_argument("name", help="the model's name")
    hist.add_argument("--json", action="store_true", help="print JSON")

    kg = sub.add_parser("keygen", help="write an Ed25519 key pair that signs verdicts")
    kg.add_argument("--out", type=Path, default=None, metavar="DIR",
                    help="the folder for the key files (default: .evalgate/keys/)")
    kg.add_argument("--force", action="store_true", help="replace an existing key pair")

    ri = add("registry", "manage the registry itself")
    _registry_options(ri)
    ri.add_argument("--require-signed", action="append", default=[], type=Path,
                    metavar="PUBKEY",
                    help="promote only verdicts signed by this public key (PEM, from "
                         "`evalgate keygen`; repeatable: any one of them); init: every "
                         "model of the local registry, policy mlflow:NAME: that model")
    ri.add_argument("--force", action="store_true",
                    help="allow dropping a signature requirement already in place")

    aud = add("audit", "check the audit log")
    aud.add_argument("action", choices=["verify"], help="verify: check the hash chain")
    aud.add_argument("name", help="the model's name")


def _registry_options(ri: argparse.ArgumentParser) -> None:
    """``registry init`` (the signature policy) and ``registry policy NAME`` (approvals)."""
    ri.add_argument("action", choices=["init", "policy"],
                    help="init: create the registry and set its signature policy; policy "
                         "NAME: set (or show) the approvals promoting NAME requires")
    ri.add_argument("name", nargs="?", default=None, help="policy: the model's name")
    ri.add_argument("--require-approvals", type=int, default=None, metavar="N",
                    help="policy: approvals by reviewers other than the candidate's author")
    ri.add_argument("--require-role", action="append", default=[], metavar="ROLE",
                    help="policy: a role among the counted approvals (repeatable)")
    ri.add_argument("--reviewer-key", action="append", default=[], metavar="NAME=PUBKEY",
                    help="policy: NAME's approvals count only when signed by this key")


def _lineage_options(reg: argparse.ArgumentParser) -> None:
    """``register``'s record of how the model was made (:mod:`evalgate.registry.lineage`)."""
    reg.add_argument("--parent", "--derived-from", dest="derived_from", type=version_number,
                     default=None, metavar="VERSION",
                     help="the version this one was derived from (default: the champion)")
    reg.add_argument("--params", type=Path, default=None, metavar="FILE",
                     help="the training's hyperparameters (a JSON object), kept in the lineage")
    reg.add_argument("--code-commit", default=None, metavar="SHA",
                     help="the commit of the training code (default: this folder's git commit "
                          "and whether its work tree is dirty)")
    reg.add_argument("--author", default=None,
                     help="who made the model (default: the user registering it)")
    reg.add_argument("--mlflow-run", default=None, metavar="ID",
                     help="the MLflow run that trained it")


def _root(args: argparse.Namespace) -> Path:
    return args.registry if args.registry is not None else project().registry


def _register(args: argparse.Namespace) -> int:
    from ..registry import ModelRegistry, check_alias, mlflow_name, short

    for alias in args.alias:
        check_alias(alias)
    name = mlflow_name(args.name)
    if name is not None:
        return on_mlflow.register(args, name)
    from ..registry.lineage import training_record

    reg = ModelRegistry(_root(args), args.name)
    extra = training_record(params=args.params, code_commit=args.code_commit,
                            author=args.author, mlflow_run=args.mlflow_run, folder=Path.cwd())
    v, created = reg.register(args.model, data=args.data, notes=args.notes,
                              derived_from=args.derived_from, extra=extra)
    if created:
        print(f"registered {reg.name} version {v.number} (sha256 {short(v.sha256)}, "
              f"{v.format}, {v.size} bytes)")
    else:
        print(f"{reg.name} version {v.number} already holds these bytes "
              f"(sha256 {short(v.sha256)}); nothing registered")
    for alias in args.alias:
        reg.set_alias(alias, v.number)
        print(f"{alias} → version {v.number}")
    return 0


def _promote(args: argparse.Namespace) -> int:
    from ..errors import EvalgateError
    from ..registry import Registry, VerdictFile, parse_reference, sha256_file, short

    verdict_path = args.verdict if args.verdict is not None else (
        project().report / "verdict.json")
    verdict = VerdictFile.load(verdict_path)
    name, scheme = args.name, "registry"
    if args.to is not None:
        target = parse_reference(args.to if "@" in args.to else f"{args.to}@champion")
        if target.alias != "champion":
            raise EvalgateError(f"--to {args.to}: promotion moves the champion alias; write "
                                f"--to {target.scheme}:{target.name}")
        if name is not None and name != target.name:
            raise EvalgateError(f"--name {name} and --to {args.to} name different models")
        name, scheme = target.name, target.scheme
    settings = project()
    if settings.attempts == "spend":  # the ledger the gate counted tries in, for any registry
        from ..registry.attempts import require_spent

        require_spent(settings.registry.resolve(), verdict)
    if scheme == "mlflow":
        from ..registry.mlflow import promote as promote_mlflow

        done = promote_mlflow(name, args.candidate, verdict,
                              require_signed=args.require_signed)
        if done["noop"]:
            print(f"mlflow:{name} version {done['version']} is already the champion; "
                  "nothing to do")
            return 0
        was = f"version {done['previous']}" if done["previous"] is not None else "no champion"
        signed = f", signed by {done['key_id']}" if done.get("key_id") else ""
        print(f"promoted mlflow:{name} version {done['version']} to champion (was {was}); "
              f"verdict {short(verdict.sha256)}{signed} recorded as tags; "
              f"{done['signoff_note']}")
        return 0
    registry = Registry(_root(args))
    if name is None:
        if args.candidate.is_file():  # say first when the verdict is for other bytes
            verdict.check(args.candidate, sha256_file(args.candidate),
                          trusted_keys=[pem for _, pem in registry.policy()])
        name = registry.infer_name(verdict)
        if name is None:
            raise EvalgateError("cannot tell which model this promotes: the verdict's champion is "
                                "not a registry model" if verdict.champion_sha256 else
                                "a first release (the verdict has no champion) needs --name NAME")
    p = registry.model(name).promote(args.candidate, verdict,
                                     require_signed=args.require_signed)
    if p.noop:
        print(f"{name} version {p.version.number} is already the champion; nothing to do")
        return 0
    was = f"version {p.previous}" if p.previous is not None else "none: a first release"
    new = ", newly registered" if p.registered else ""
    signed = f", signed by {p.key_id}" if p.key_id else ""
    print(f"promoted {name} version {p.version.number} to champion (was {was}{new}); "
          f"verdict {short(p.verdict_sha256)}{signed}; {p.signoff_note}")
    return 0


def _keygen(args: argparse.Namespace) -> int:
    from ..verdict.signing import DEFAULT_KEY_DIR, generate, key_id, load_public_key

    private, public = generate(args.out if args.out is not None else DEFAULT_KEY_DIR,
                               force=args.force)
    print(f"private key: {private} (keep it secret; sign verdicts with "
          f"EVALGATE_SIGNING_KEY={private})")
    print(f"public key:  {public} (trust it: evalgate registry init --require-signed {public})")
    print(f"key id:      {key_id(load_public_key(public))}")
    return 0


def _registry_init(args: argparse.Namespace) -> int:
    from ..registry import Registry

    if args.action == "policy":
        return _approval_policy(args)

    registry = Registry(_root(args))
    before, after = registry.init(args.require_signed, force=args.force)
    now = (f"promote requires a verdict signed by {', '.join(after)}" if after else
           "promote requires no signature")
    was = f" (was: {', '.join(before) or 'none'})" if before != after else ""
    print(f"registry {registry.root}: {now}{was}")
    return 0


def _approval_policy(args: argparse.Namespace) -> int:
    from ..errors import EvalgateError
    from ..registry import ModelRegistry, mlflow_name
    from ..registry.approvals import current, policy_entry

    if args.name is None:
        raise EvalgateError("registry policy needs the model's NAME")
    name = mlflow_name(args.name)
    store: Callable[[Any], None]
    read: Callable[[], Any]
    if name is not None:
        from ..registry import mlflow

        title = f"mlflow:{name}"
        store, read = partial(mlflow.set_policy, name), partial(mlflow.policy, name)
        if args.require_signed or args.force:  # MLflow models have no registry-wide policy
            before, after = mlflow.require_signed(name, args.require_signed, force=args.force)
            was = f" (was: {before})" if before != after else ""
            now = f"a verdict signed by {after}" if after != "none" else "no signature"
            print(f"{title}: promote requires {now}{was}")
            if args.require_approvals is None:
                return 0
    else:
        if args.require_signed:
            raise EvalgateError("the local registry's signature requirement covers every "
                                "model: evalgate registry init --require-signed PUBKEY")
        reg = ModelRegistry(_root(args), args.name)
        title, store = reg.name, reg.note

        def read() -> Any:
            return current(reg) if reg.exists() else None
    if args.require_approvals is not None:
        store(policy_entry(args.require_approvals, args.require_role, args.reviewer_key))
    elif args.require_role or args.reviewer_key:
        raise EvalgateError("give --require-approvals N with --require-role/--reviewer-key "
                            "(0 to require none)")
    policy = read()
    if policy is None:
        print(f"{title}: no approval policy (promote requires no sign-off)")
        return 0
    roles = ", ".join(policy["require_roles"]) or "any"
    keys = ", ".join(f"{n} ({k['key_id']})" for n, k in policy["reviewer_keys"].items())
    print(f"{title}: promote requires {policy['require_approvals']} approval(s) by reviewers "
          f"other than the candidate's author; roles: {roles}; pinned keys: {keys or 'none'}")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from ..registry import ModelRegistry, mlflow_name

    name = mlflow_name(args.name)
    if name is not None:
        from ..registry.mlflow import rollback

        before, after = rollback(name, args.to, reason=args.reason)
        print(f"rolled back mlflow:{name}: champion is version {after} (was version {before})")
        return 0
    reg = ModelRegistry(_root(args), args.name)
    before, after = reg.rollback(args.to, reason=args.reason)
    print(f"rolled back {reg.name}: champion is version {after} (was version {before})")
    return 0


def _alias(args: argparse.Namespace) -> int:
    from ..errors import EvalgateError
    from ..registry import ModelRegistry, mlflow_name

    if (args.version is None) == (not args.delete):
        raise EvalgateError("give a VERSION, or --delete")
    name = mlflow_name(args.name)
    if name is not None:
        return on_mlflow.alias(args, name)
    reg = ModelRegistry(_root(args), args.name)
    before = reg.set_alias(args.alias, args.version)
    was = f" (was version {before})" if before is not None else ""
    now = f"version {args.version}" if args.version is not None else "removed"
    print(f"{reg.name}@{args.alias}: {now}{was}")
    return 0


def _history(args: argparse.Namespace) -> int:
    import json

    from ..errors import EvalgateError
    from ..registry import ModelRegistry, Registry, Version, mlflow_name, short

    name = mlflow_name(args.name)
    if name is not None:
        from ..registry.mlflow import history, registry_uri

        h = history(name)
        title = f"mlflow:{name} ({registry_uri()})"
    else:
        reg = ModelRegistry(_root(args), args.name)
        if not reg.exists():
            names = Registry(reg.root).names()
            raise EvalgateError(f"no model named {reg.name!r} in {reg.root} "
                                f"(models: {', '.join(names) or 'none'})")
        h = reg.history()
        title = f"{h.name} ({reg.dir})"
    if args.json:
        print(json.dumps(h.as_dict(), indent=2, ensure_ascii=False))
        return 0
    by_version: dict[int, list[str]] = {}
    for alias, number in sorted(h.aliases.items()):
        by_version.setdefault(number, []).append(alias)
    print(title)
    print("versions:")
    for v in h.versions:
        tags = f"  [{', '.join(by_version[v.number])}]" if v.number in by_version else ""
        notes = f"  {v.notes}" if v.notes else ""
        if not isinstance(v, Version):  # an MLflow version: its source, not our lineage
            print(on_mlflow.version_line(v, tags, notes))
            continue
        data = (v.lineage.get("data") or {}).get("sha256")
        derived = v.lineage.get("derived_from")
        print(f"  v{v.number:<3} {v.created_at}  sha256 {short(v.sha256)}  {v.format}  "
              f"{v.size} B  data {short(data)}  from {'v' + str(derived) if derived else '-'}"
              f"{tags}{notes}")
    print("aliases over time:")
    for e in h.events:
        before = f"v{e['from']}" if e.get("from") is not None else "-"
        after = f"v{e['version']}" if e.get("version") is not None else "(removed)"
        extra = ""
        if e.get("action") == "promote":
            verdict = e.get("verdict") or {}
            reviewer = (e.get("signoff") or {}).get("reviewer")
            extra = f"  verdict {short(verdict.get('sha256'))}" + (
                f", signed off by {reviewer}" if reviewer else "")
        elif e.get("reason"):
            extra = f"  reason: {e['reason']}"
        print(f"  #{e['seq']:<3} {e['at']}  {e['action']:<8} {e.get('alias')}: {before} → "
              f"{after}  by {e.get('user')}{extra}")
    keys = sorted({k for m in h.metrics.values() for k in m})
    if keys:
        print("metrics of each promoted version (from the verdict that promoted it):")
        width = max(len(k) for k in keys)
        print(f"  {'':<{width}}  " + "  ".join(f"{'v' + str(n):>8}" for n in h.metrics))
        for k in keys:
            cells = "  ".join(f"{m[k]:>8.4f}" if k in m else f"{'-':>8}"
                              for m in h.metrics.values())
            print(f"  {k:<{width}}  {cells}")
    return 0


def _lineage(args: argparse.Namespace) -> int:
    import json

    from ..errors import EvalgateError
    from ..registry import ModelRegistry
    from ..registry.lineage import chain, lines
    from ..registry.references import local_only

    local_only(args.name, "lineage")
    name, _, at = args.name.partition("@")
    try:
        number = version_number(at) if at else None
    except argparse.ArgumentTypeError as exc:
        raise EvalgateError(f"{args.name}: {exc}") from None
    reg = ModelRegistry(_root(args), name)
    if not reg.exists():
        raise EvalgateError(f"no model named {reg.name!r} in {reg.root}")
    found = chain(reg, number)
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        print("\n".join(lines(found)))
    return 0 if found["ok"] else 1


def _card(args: argparse.Namespace) -> int:
    from ..config import display_path
    from ..errors import EvalgateError
    from ..registry import ModelRegistry
    from ..registry.card import write_card
    from ..registry.references import local_only

    local_only(args.name, "card")
    reg = ModelRegistry(_root(args), args.name)
    if not reg.exists():
        raise EvalgateError(f"no model named {reg.name!r} in {reg.root}")
    out = args.out if args.out is not None else project().report
    md, html, ok = write_card(reg, args.version, out)
    print(f"model card: {display_path(md)}, {display_path(html)}"
          + ("" if ok else f" — the lineage has a broken link: `evalgate lineage {reg.name}`"))
    return 0 if ok else 1


def _audit(args: argparse.Namespace) -> int:
    from ..errors import EvalgateError
    from ..registry import ModelRegistry, mlflow_name, short

    name = mlflow_name(args.name)
    if name is not None:
        from ..registry.mlflow import verify

        result = verify(name)
        title, counted = f"evalgate's changes of mlflow:{name}", "changes"
        matched = "aliases match"
    else:
        reg = ModelRegistry(_root(args), args.name)
        if not reg.exists():
            raise EvalgateError(f"no model named {reg.name!r} in {reg.root}")
        result = reg.verify()
        title, counted = f"audit log of {reg.name}", "entries"
        matched = "aliases and files match"
    for note in result.notes:
        print(f"note: {note}")
    if result.ok:
        print(f"{title}: OK ({result.entries} {counted}, chain intact, head "
              f"{short(result.head)}, {matched})")
        return 0
    for problem in result.problems:
        print(f"BROKEN: {problem}")
    print(f"{title}: {len(result.problems)} problem(s)")
    return 1


def guarded(verb: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A registry verb whose refusals are one line each: exit 1 for a refused promotion or a
    broken audit log, 2 for bad input."""
    def run(args: argparse.Namespace) -> int:
        from ..errors import EvalgateError, IntegrityError, PromotionRefused

        try:
            return verb(args)
        except PromotionRefused as exc:
            print(f"evalgate: refused: {exc}", file=sys.stderr)
            return 1
        except IntegrityError as exc:
            print(f"evalgate: integrity check failed: {exc}", file=sys.stderr)
            return 1
        except EvalgateError as exc:
            print(f"evalgate: {exc}", file=sys.stderr)
            return 2
    return run


COMMANDS = {name: guarded(verb) for name, verb in (
    ("register", _register), ("promote", _promote), ("rollback", _rollback),
    ("alias", _alias), ("history", _history), ("lineage", _lineage), ("card", _card),
    ("audit", _audit),
    ("keygen", _keygen),
    ("registry", _registry_init))}
