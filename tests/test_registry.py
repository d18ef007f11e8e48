"""The local registry in-process: versions, references, promotion rules, rollback, the audit
log and its verification, recovery from interrupted changes, and the gate's use of it."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import onnx
import pytest

from conftest import ADULT_TEST, CHAMPION, suite_text
from evalgate.config import read_settings
from evalgate.engine import Gate
from evalgate.errors import ModelLoadError
from evalgate.families import load_suite
from evalgate.registry import (
    CHAMPION_CHANGED,
    INCOMPLETE,
    NOT_PROMOTE,
    OTHER_MODEL,
    TAMPERED,
    ChampionChanged,
    IntegrityError,
    ModelRegistry,
    PromotionRefused,
    Reference,
    Registry,
    RegistryError,
    VerdictFile,
    parse_reference,
    resolve,
    resolver,
    sha256_file,
)
from evalgate.verdict import decide_statuses, summary_entry

# --------------------------------------------------------------------------- helpers (shared)


def variant(folder: Path, i: int) -> Path:
    """The shipped champion with a metadata tag: same predictions, different bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"model-{i}.onnx"
    if not path.exists():
        model = onnx.load(CHAMPION)
        onnx.helper.set_model_props(model, {"variant": str(i)})
        onnx.save(model, path)
    return path


def make_verdict(path: Path, candidate: Path, champion: Path | str | None = None, *,
                 decision: str = "promote", complete: bool = True,
                 roc_auc: float = 0.9) -> Path:
    """A minimal, self-consistent verdict.json judging ``candidate`` against ``champion`` (a
    file or a sha256): ``decision="block"`` fails a check, ``complete=False`` leaves one out.
    Its suite is a file next to it; its dataset the shipped test data (absolute paths)."""
    champ = None
    if champion is not None:
        sha = champion if isinstance(champion, str) else sha256_file(champion)
        champ = {"path": str(champion), "sha256": sha, "format": "onnx"}
    checks = [_check("roc_auc", "pass", roc_auc),
              _check("accuracy", "pass" if decision == "promote" else "fail", roc_auc - 0.05)]
    log_loss = _check("log_loss", "pass", 0.3)
    checks += [log_loss] if complete else []  # the suite plans the three QUICK_CHECKS
    not_run = [] if complete else [log_loss["id"]]
    summary = decide_statuses([(c["id"], c["status"], c["blocking"]) for c in checks],
                              not_run=not_run)
    path.parent.mkdir(parents=True, exist_ok=True)
    suite = path.parent / f"{path.stem}.suite.yaml"
    suite.write_text(suite_text(data=ADULT_TEST, champion=None))
    doc: dict[str, Any] = {
        "schema": "evalgate.verdict/1", "decision": summary.decision,
        "candidate": {"path": str(candidate), "sha256": sha256_file(candidate), "format": "onnx"},
        "champion": champ,
        "suites": [{"name": "adult-income", "file": str(suite), "sha256": sha256_file(suite),
                    "dataset": {"path": str(ADULT_TEST), "sha256": adult_sha256(),
                                "rows": 16281},
                    "checks": checks}],
        "provenance": {"evalgate": "test", "python": "3", "packages": {}, "seed": 0,
                       "started_at": "2026-01-01T00:00:00+00:00", "duration_s": 1.0,
                       "platform": "test"},
        "summary": summary_entry(summary),
        "gate": {"suites": str(suite)},  # the gate was this one suite file
    }
    path.write_text(json.dumps(doc, indent=2))
    return path


def _check(metric: str, status: str, candidate: float) -> dict[str, Any]:
    """One performance check of a hand-made verdict, every field of verdict.json present."""
    return {"id": f"adult-income::performance::{metric}", "family": "performance",
            "status": status, "blocking": True, "metric": metric, "candidate": candidate,
            "champion": None, "delta": None, "ci": None, "confidence": 0.95,
            "threshold": {"min": 0.5}, "message": f"{metric} {status}"}


@functools.cache
def adult_sha256() -> str:
    return sha256_file(ADULT_TEST)


def promote(reg: ModelRegistry, candidate: Path, champion: Path | str | None, folder: Path,
            **kwargs: Any) -> Any:
    verdict = make_verdict(folder / f"verdict-{candidate.stem}.json", candidate, champion,
                           **kwargs)
    return reg.promote(candidate, VerdictFile.load(verdict))


@pytest.fixture(autouse=True)
def _a_project_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Promote holds a verdict to the suites the working directory's project declares: these
    verdicts judge hand-made suites, so each test is a project of its own (not this
    repository, whose suites/ they are not)."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def models(tmp_path: Path) -> list[Path]:
    return [variant(tmp_path / "models", i) for i in range(4)]


@pytest.fixture
def reg(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "registry", "churn")


@pytest.fixture
def three(reg: ModelRegistry, models: list[Path], tmp_path: Path) -> ModelRegistry:
    """churn with champions v1 → v2 → v3, promoted in turn."""
    promote(reg, models[0], None, tmp_path, roc_auc=0.90)
    promote(reg, models[1], models[0], tmp_path, roc_auc=0.91)
    promote(reg, models[2], models[1], tmp_path, roc_auc=0.93)
    return reg


def audit_lines(reg: ModelRegistry) -> list[str]:
    return reg.audit_path.read_text().splitlines()


# --------------------------------------------------------------------------- versions


def test_register_records_the_version(reg: ModelRegistry, models: list[Path],
                                      tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    data.write_text("a,b\n1,2\n")
    v, created = reg.register(models[0], data=data, notes="baseline")
    assert created and v.number == 1
    assert v.sha256 == sha256_file(models[0]) == sha256_file(v.path)
    assert v.size == models[0].stat().st_size and v.format == "onnx"
    assert v.path == reg.dir / "versions" / "1" / "model.onnx"
    assert [i["name"] for i in v.inputs or []][:2] == ["age", "workclass"]
    assert v.inputs[0]["type"].startswith("tensor(")  # type: ignore[index]
    assert v.lineage == {"data": {"path": str(data), "sha256": hashlib.sha256(
        b"a,b\n1,2\n").hexdigest(), "size": 8, "rows": 1, "columns": ["a", "b"]},
        "derived_from": None}
    assert v.notes == "baseline" and v.created_at.endswith("+00:00")
    assert reg.version(1) == v
    entry = json.loads(audit_lines(reg)[0])
    assert entry["action"] == "register" and entry["version"] == 1 and entry["sha256"] == v.sha256


def test_same_bytes_give_the_existing_version(reg: ModelRegistry, models: list[Path],
                                              tmp_path: Path) -> None:
    reg.register(models[0])
    copy = tmp_path / "elsewhere" / "same.onnx"
    copy.parent.mkdir()
    copy.write_bytes(models[0].read_bytes())
    again, created = reg.register(copy)
    assert not created and again.number == 1
    v2, created = reg.register(models[1], derived_from=1)
    assert created and v2.number == 2 and v2.lineage["derived_from"] == 1
    assert len(audit_lines(reg)) == 2


def test_register_derives_from_the_champion_by_default(reg: ModelRegistry, models: list[Path],
                                                       tmp_path: Path) -> None:
    promote(reg, models[0], None, tmp_path)
    v, _ = reg.register(models[1])
    assert v.lineage["derived_from"] == 1


def test_register_refuses_bad_files_and_leaves_nothing(reg: ModelRegistry,
                                                        tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(RegistryError, match="not a loadable ONNX model"):
        reg.register(bad)
    other = tmp_path / "model.h5"
    other.write_bytes(b"x")
    with pytest.raises(RegistryError, match="unknown model format"):
        reg.register(other)
    with pytest.raises(RegistryError, match="model file not found"):
        reg.register(tmp_path / "missing.onnx")
    assert list((reg.dir / "versions").iterdir()) == []
    assert reg.versions() == [] and not reg.audit_path.exists()


@pytest.mark.parametrize("name", ["", "a/b", "../x", ".hidden", "x" * 101])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(RegistryError, match="invalid model name"):
        ModelRegistry(tmp_path, name)


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize(("text", "expected"), [
    ("registry:churn@champion", Reference("registry", "churn", "champion", None)),
    ("registry:churn", Reference("registry", "churn", "champion", None)),
    ("registry:churn@3", Reference("registry", "churn", None, 3)),
    ("registry:churn@v3", Reference("registry", "churn", None, 3)),  # as the commands read it
    ("registry:churn@staging", Reference("registry", "churn", "staging", None)),
    ("mlflow:Churn Model@champion", Reference("mlflow", "Churn Model", "champion", None)),
])
def test_parse_reference(text: str, expected: Reference) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize("text", ["registry:churn@0", "registry:@champion", "registry:a/b@1",
                                  "registry:churn@-x", "s3:churn@champion", "registry:churn@²",
                                  "registry:churn@v0", "registry:churn@١",
                                  "registry:churn@" + "9" * 5000])
def test_bad_references(text: str) -> None:
    with pytest.raises(RegistryError):
        parse_reference(text)


@pytest.mark.parametrize("alias", ["v1", "V12"])
def test_an_alias_that_reads_as_a_version_is_refused(three: ModelRegistry, alias: str) -> None:
    """`lineage NAME@v1` and `rollback --to v1` read v1 as version 1: an alias of that name
    would make the same text name two versions."""
    with pytest.raises(RegistryError, match="reads as a version"):
        three.set_alias(alias, 1)
    with three._locked() as state:  # one set before such names were refused
        three._change(state, {"action": "alias", "alias": alias, "version": 1, "from": None})
    assert three.set_alias(alias, None) == 1  # it can still be removed
    assert alias not in three.checked_state().aliases


def test_a_non_ascii_digit_is_no_version_number() -> None:
    import argparse

    from evalgate.cli.common import version_number

    assert version_number("v2") == 2
    for text in ("²", "v²", "١"):
        with pytest.raises(argparse.ArgumentTypeError):
            version_number(text)


def test_resolve(three: ModelRegistry, models: list[Path]) -> None:
    root = three.root
    champ = resolve("registry:churn@champion", root)
    assert (champ.version, champ.path, champ.sha256) == (3, three.version(3).path,
                                                         sha256_file(models[2]))
    assert resolve("registry:churn@1", root).sha256 == sha256_file(models[0])
    with pytest.raises(RegistryError, match=r"no model named 'chrun'.*did you mean 'churn'"):
        resolve("registry:chrun@champion", root)
    with pytest.raises(RegistryError, match=r"has no alias 'staging' \(aliases: champion=v3\)"):
        resolve("registry:churn@staging", root)
    with pytest.raises(RegistryError, match=r"has no version 9 \(versions: 1, 2, 3\)"):
        resolve("registry:churn@9", root)


def test_registry_setting(tmp_path: Path) -> None:
    assert read_settings(tmp_path).registry == tmp_path / "registry"
    (tmp_path / "pyproject.toml").write_text('[tool.evalgate]\nregistry = "ml/models"\n')
    assert read_settings(tmp_path).registry == tmp_path / "ml" / "models"


# --------------------------------------------------------------------------- promotion


def test_first_release_then_promotions(reg: ModelRegistry, models: list[Path],
                                       tmp_path: Path) -> None:
    p = promote(reg, models[0], None, tmp_path)
    assert (p.version.number, p.previous, p.registered) == (1, None, True)
    assert reg.champion() == reg.version(1)
    p = promote(reg, models[1], models[0], tmp_path)
    assert (p.version.number, p.previous) == (2, 1)
    assert reg.state().aliases == {"champion": 2} and reg.state().champions == (1, 2)
    entry = json.loads(audit_lines(reg)[-1])
    assert entry["action"] == "promote" and entry["from"] == 1 and entry["version"] == 2
    assert entry["verdict"]["sha256"] == p.verdict_sha256
    assert entry["verdict"]["metrics"]["adult-income::performance::roc_auc"] == 0.9
    stored = reg.verdicts_dir / f"{p.verdict_sha256}.json"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == p.verdict_sha256


def test_promote_registers_once(reg: ModelRegistry, models: list[Path], tmp_path: Path) -> None:
    promote(reg, models[0], None, tmp_path)
    reg.register(models[1])  # registered ahead of its gate run
    p = promote(reg, models[1], models[0], tmp_path)
    assert (p.version.number, p.registered) == (2, False)
    assert len(reg.versions()) == 2


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"decision": "block"}, NOT_PROMOTE.format(decision="block")),
    ({"complete": False}, INCOMPLETE),
])
def test_promote_refuses_verdicts_that_do_not_allow_it(reg: ModelRegistry, models: list[Path],
                                                       tmp_path: Path, kwargs: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(PromotionRefused) as info:
        promote(reg, models[0], None, tmp_path, **kwargs)
    assert message in str(info.value)
    assert reg.versions() == [] and reg.champion() is None


def test_promote_refuses_a_verdict_for_other_bytes(reg: ModelRegistry, models: list[Path],
                                                   tmp_path: Path) -> None:
    verdict = make_verdict(tmp_path / "v.json", models[0])
    with pytest.raises(PromotionRefused, match=OTHER_MODEL):
        reg.promote(models[1], VerdictFile.load(verdict))


def test_a_stale_verdict_is_refused(three: ModelRegistry, models: list[Path],
                                    tmp_path: Path) -> None:
    with pytest.raises(ChampionChanged) as info:
        promote(three, models[3], models[1], tmp_path)  # judged against v2; v3 is champion
    assert str(info.value).startswith(CHAMPION_CHANGED)
    assert "judged against churn version 2" in str(info.value)
    assert "now version 3" in str(info.value)
    with pytest.raises(ChampionChanged, match="outside the registry"):
        promote(three, models[3], "ab" * 32, tmp_path)
    assert three.champion().number == 3 and len(three.versions()) == 3  # type: ignore[union-attr]


def test_first_release_verdict_needs_an_empty_registry(three: ModelRegistry, models: list[Path],
                                                       tmp_path: Path,
                                                       reg: ModelRegistry) -> None:
    with pytest.raises(ChampionChanged, match="judged without a champion"):
        promote(three, models[3], None, tmp_path)
    fresh = ModelRegistry(tmp_path / "other", "churn")
    with pytest.raises(PromotionRefused, match="has no champion in the registry"):
        promote(fresh, models[3], models[0], tmp_path)


def test_signoff_bound_to_the_verdict_records_the_reviewer(reg: ModelRegistry,
                                                           models: list[Path],
                                                           tmp_path: Path) -> None:
    verdict = make_verdict(tmp_path / "reports" / "verdict.json", models[0])
    sha = hashlib.sha256(verdict.read_bytes()).hexdigest()
    (tmp_path / "reports" / "signoff.json").write_text(json.dumps(
        {"verdict_sha256": sha, "reviewer": "alice", "note": "ok", "signed_at": "2026-01-01"}))
    p = reg.promote(models[0], VerdictFile.load(verdict))
    assert p.signoff is not None and p.signoff_note == "signed off by alice"
    entry = json.loads(audit_lines(reg)[-1])
    assert entry["signoff"] == {"reviewer": "alice", "note": "ok", "signed_at": "2026-01-01"}
    assert (reg.verdicts_dir / f"{sha}.signoff.json").is_file()


def test_signoff_for_another_verdict_is_not_recorded(reg: ModelRegistry, models: list[Path],
                                                     tmp_path: Path) -> None:
    verdict = make_verdict(tmp_path / "reports" / "verdict.json", models[0])
    (tmp_path / "reports" / "signoff.json").write_text(json.dumps(
        {"verdict_sha256": "0" * 64, "reviewer": "mallory"}))
    p = reg.promote(models[0], VerdictFile.load(verdict))
    assert p.signoff is None
    assert "signs another verdict" in p.signoff_note and "no reviewer recorded" in p.signoff_note
    assert json.loads(audit_lines(reg)[-1])["signoff"] is None


def test_promoting_the_champion_again_changes_nothing(three: ModelRegistry, models: list[Path],
                                                      tmp_path: Path) -> None:
    before = audit_lines(three)
    p = promote(three, models[2], models[2], tmp_path)
    assert p.noop and audit_lines(three) == before


# --------------------------------------------------------------------------- rollback, aliases


def test_rollback_walks_back_the_champions(three: ModelRegistry) -> None:
    assert three.rollback(reason="bad latency") == (3, 2)
    assert three.champion().number == 2  # type: ignore[union-attr]
    assert three.rollback() == (2, 1)
    with pytest.raises(RegistryError, match="no previous champion"):
        three.rollback()
    assert three.rollback(to=3) == (1, 3)  # forward again to a former champion
    entry = json.loads(audit_lines(three)[-1])
    assert (entry["action"], entry["from"], entry["version"]) == ("rollback", 1, 3)
    assert three.verify().ok


def test_rollback_to_a_version(three: ModelRegistry, models: list[Path], tmp_path: Path) -> None:
    assert three.rollback(to=1) == (3, 1)
    assert three.state().champions == (1,)
    three.register(models[3])
    with pytest.raises(RegistryError, match="version 4 has never been champion"):
        three.rollback(to=4)
    with pytest.raises(RegistryError, match="already the champion"):
        three.rollback(to=1)
    with pytest.raises(RegistryError, match="has no version 7"):
        three.rollback(to=7)


def test_rollback_refuses_a_tampered_version(three: ModelRegistry) -> None:
    path = three.version(2).path
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(IntegrityError, match=TAMPERED):
        three.rollback()
    assert three.champion().number == 3  # type: ignore[union-attr]


def test_other_aliases(three: ModelRegistry, models: list[Path]) -> None:
    v, _ = three.register(models[3])
    assert three.set_alias("staging", v.number) is None
    assert resolve("registry:churn@staging", three.root).version == 4
    assert three.set_alias("staging", None) == 4
    assert "staging" not in three.state().aliases
    for look_alike in ("champion", "Champion", "CHAMPION"):
        with pytest.raises(RegistryError, match="moves only with `evalgate promote`"):
            three.set_alias(look_alike, 4)
    with pytest.raises(RegistryError, match="invalid alias"):
        three.set_alias("3", 1)
    assert three.verify().ok


def test_history(three: ModelRegistry) -> None:
    three.rollback(reason="oops")
    h = three.history()
    assert [v.number for v in h.versions] == [1, 2, 3]
    assert [(e["action"], e["from"], e["version"]) for e in h.events] == [
        ("promote", None, 1), ("promote", 1, 2), ("promote", 2, 3), ("rollback", 3, 2)]
    auc = "adult-income::performance::roc_auc"
    assert [m[auc] for m in h.metrics.values()] == [0.90, 0.91, 0.93]
    assert h.aliases == {"champion": 2}
    assert json.loads(json.dumps(h.as_dict()))["metrics"]["3"][auc] == 0.93


def test_infer_name(three: ModelRegistry, models: list[Path], tmp_path: Path) -> None:
    registry = Registry(three.root)
    by_path = VerdictFile.load(make_verdict(tmp_path / "a.json", models[3], three.version(3).path))
    assert registry.infer_name(by_path) == "churn"
    by_sha = VerdictFile.load(make_verdict(tmp_path / "b.json", models[3], models[2]))
    assert registry.infer_name(by_sha) == "churn"
    first = VerdictFile.load(make_verdict(tmp_path / "c.json", models[3]))
    assert registry.infer_name(first) is None
    doc = json.loads((tmp_path / "b.json").read_text())
    doc["champion"].update(sha256="cd" * 32, registry={"ref": "registry:churn@champion",
                                                       "name": "churn", "version": 3})
    (tmp_path / "d.json").write_text(json.dumps(doc))
    assert registry.infer_name(VerdictFile.load(tmp_path / "d.json")) == "churn"


# --------------------------------------------------------------------------- audit log


def test_verify_a_clean_log(three: ModelRegistry) -> None:
    result = three.verify()
    assert result.ok and result.entries == 6 and not result.notes
    assert result.head == hashlib.sha256(audit_lines(three)[-1].encode()).hexdigest()


def _rewrite(reg: ModelRegistry, lines: list[str]) -> None:
    reg.audit_path.write_text("".join(f"{line}\n" for line in lines))


def test_verify_detects_an_edited_entry(three: ModelRegistry) -> None:
    lines = audit_lines(three)
    lines[1] = lines[1].replace('"user":"', '"user":"x')
    _rewrite(three, lines)
    problems = three.verify().problems
    assert any("entry 3: its prev hash does not match entry 2" in p for p in problems)


def test_verify_detects_an_edited_last_entry(three: ModelRegistry) -> None:
    lines = audit_lines(three)
    lines[-1] = lines[-1].replace('"version":3', '"version":1')
    _rewrite(three, lines)
    assert any("the last entry was edited" in p for p in three.verify().problems)


def test_verify_detects_a_removed_entry(three: ModelRegistry) -> None:
    lines = audit_lines(three)
    _rewrite(three, lines[:2] + lines[3:])
    problems = three.verify().problems
    assert any("entry 3: its seq is 4" in p for p in problems)
    assert any("prev hash does not match" in p for p in problems)


def test_verify_detects_a_removed_last_entry(three: ModelRegistry) -> None:
    _rewrite(three, audit_lines(three)[:-1])
    assert any("removed from the end" in p for p in three.verify().problems)


def test_verify_detects_a_moved_alias_and_changed_bytes(three: ModelRegistry) -> None:
    state = json.loads(three.state_path.read_text())
    state["aliases"]["champion"] = 1
    three.state_path.write_text(json.dumps(state))
    assert any("not those the log leads to" in p for p in three.verify().problems)
    path = three.version(2).path
    path.write_bytes(path.read_bytes()[:-1])
    assert any(TAMPERED in p for p in three.verify().problems)


def test_changes_are_refused_on_a_tampered_log(three: ModelRegistry, models: list[Path]) -> None:
    lines = audit_lines(three)
    _rewrite(three, lines[:2] + lines[3:])
    with pytest.raises(IntegrityError, match="audit verify churn"):
        three.register(models[3])
    with pytest.raises(IntegrityError):
        three.rollback()


# --------------------------------------------------------------------------- recovery


def test_an_uncommitted_entry_is_discarded(three: ModelRegistry, models: list[Path]) -> None:
    lines = audit_lines(three)
    head = hashlib.sha256(lines[-1].encode()).hexdigest()
    ghost = json.dumps({"seq": 7, "prev": head, "action": "rollback", "alias": "champion",
                        "version": 1, "from": 3}, separators=(",", ":"))
    with three.audit_path.open("a") as f:
        f.write(ghost + "\n" + '{"seq":8,"pr')  # and a torn line after it
    result = three.verify()
    assert result.ok and len(result.notes) == 2, result
    assert three.champion().number == 3  # type: ignore[union-attr]
    v, _ = three.register(models[3])
    assert audit_lines(three) == [*lines, audit_lines(three)[-1]]
    assert json.loads(audit_lines(three)[-1])["version"] == v.number == 4
    assert three.verify().ok and not three.verify().notes


def test_two_uncommitted_entries_are_tampering(three: ModelRegistry, models: list[Path]) -> None:
    with three.audit_path.open("a") as f:
        f.write('{"seq":7}\n{"seq":8}\n')
    assert not three.verify().ok
    with pytest.raises(IntegrityError, match="2 uncommitted entries"):
        three.register(models[3])


def test_an_appended_entry_off_the_chain_is_tampering(three: ModelRegistry,
                                                      models: list[Path]) -> None:
    with three.audit_path.open("a") as f:
        f.write('{"seq":7,"prev":"x","action":"rollback","version":1}\n')
    result = three.verify()
    assert result.problems == ("entry 7, after the last committed one, does not continue the "
                               "chain: it was added outside evalgate",) and not result.notes
    with pytest.raises(IntegrityError, match="does not continue the chain"):
        three.register(models[3])


def test_an_orphan_version_is_adopted(three: ModelRegistry, models: list[Path]) -> None:
    import shutil

    shutil.copytree(three.versions_dir / "3", three.versions_dir / "4")
    record = json.loads((three.versions_dir / "4" / "version.json").read_text())
    record["version"] = 4
    (three.versions_dir / "4" / "version.json").write_text(json.dumps(record))
    (three.versions_dir / ".tmp-5-abc").mkdir()
    assert three.verify().ok and "version 4" in three.verify().notes[0]
    three.set_alias("staging", 4)
    entries = [json.loads(line) for line in audit_lines(three)]
    assert entries[-2]["action"] == "register" and entries[-2]["recovered"] is True
    assert not (three.versions_dir / ".tmp-5-abc").exists()
    assert three.verify().ok and not three.verify().notes


def test_commit_is_a_compare_and_swap(three: ModelRegistry) -> None:
    state = three.state()
    three.rollback()
    with pytest.raises(ChampionChanged, match=CHAMPION_CHANGED):
        three._commit(state, state)


# --------------------------------------------------------------------------- the gate


def _suite(tmp_path: Path, champion: str | None) -> Any:
    path = tmp_path / "suites" / "s.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(suite_text(data=ADULT_TEST, champion=champion))
    return load_suite(path)


def test_gate_resolves_references(three: ModelRegistry, tmp_path: Path) -> None:
    suite = _suite(tmp_path, "registry:churn@champion")
    gate = Gate(CHAMPION, resolve=resolver(three.root))
    assert gate.champion_path(suite) == three.version(3).path
    gate = Gate(CHAMPION, champion="registry:churn@1", resolve=resolver(three.root))
    path = gate.champion_path(suite)
    assert path == three.version(1).path
    assert gate.model(path).info.sha256 == three.version(1).sha256
    gate = Gate(CHAMPION, champion="registry:nope@champion", resolve=resolver(three.root))
    with pytest.raises(ModelLoadError, match="no model named 'nope'"):
        gate.champion_path(suite)


def test_gate_refuses_a_tampered_registry_model(three: ModelRegistry, tmp_path: Path) -> None:
    target = three.version(3).path
    model = onnx.load(target)
    onnx.helper.set_model_props(model, {"variant": "evil"})
    onnx.save(model, target)
    gate = Gate(CHAMPION, champion="registry:churn@champion", resolve=resolver(three.root))
    path = gate.champion_path(_suite(tmp_path, None))
    with pytest.raises(ModelLoadError, match=TAMPERED):
        gate.model(path)
