"""Promotion trusts nothing it cannot check (issue 11 §3): the decision is re-derived from the
statuses, suites and datasets must still hold the judged bytes, signatures are required where
the registry says so, and the registry's state is checked against its log on every read."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import ADULT_TEST, CANDIDATE, CHAMPION, suite_text
from evalgate.cli import main
from evalgate.config import read_settings
from evalgate.engine import Gate, evaluate_paths
from evalgate.errors import EvalgateError, ModelLoadError
from evalgate.families import load_suite
from evalgate.output import finish
from evalgate.registry import (
    CHANGED_SINCE,
    EDITED,
    IN_PROGRESS,
    INCOMPLETE,
    MALFORMED,
    NOT_PROMOTE,
    IntegrityError,
    ModelRegistry,
    PromotionRefused,
    Registry,
    VerdictFile,
    resolve,
    resolver,
    sha256_file,
)
from evalgate.verdict import dumps, in_progress, now
from evalgate.verdict.signing import (
    BAD_SIGNATURE,
    UNKNOWN_KEY,
    UNSIGNED,
    SignatureRejected,
    SigningError,
    canonical,
    generate,
    key_id,
    load_public_key,
    sign,
    verify,
)
from tests.test_registry import make_verdict, variant

Doc = dict[str, Any]


def edit(path: Path, change: Callable[[Doc], None]) -> Path:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(dumps(doc))
    return path


def promote(reg: ModelRegistry, model: Path, verdict: Path, **kwargs: Any) -> Any:
    return reg.promote(model, VerdictFile.load(verdict), **kwargs)


@pytest.fixture(autouse=True)
def _a_project_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Promote holds a verdict to the suites the working directory's project declares: these
    verdicts judge hand-made suites, so each test is a project of its own (not this
    repository, whose suites/ they are not)."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def models(tmp_path: Path) -> list[Path]:
    return [variant(tmp_path / "models", i) for i in range(3)]


@pytest.fixture
def reg(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "registry", "churn")


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return generate(tmp_path / "keys")


@pytest.fixture
def champion(reg: ModelRegistry, models: list[Path], tmp_path: Path) -> ModelRegistry:
    """churn with v1 as champion (a first release)."""
    promote(reg, models[0], make_verdict(tmp_path / "first.json", models[0]))
    return reg


def _fail_to_pass(doc: Doc) -> None:
    doc["suites"][0]["checks"][1]["status"] = "pass"


def _forge(doc: Doc) -> None:
    """A consistent forgery of a blocked verdict: every field a re-derivation checks."""
    _fail_to_pass(doc)
    doc["decision"] = "promote"
    doc["summary"].update(failed=0, decided=3, reasons=[])  # make_verdict's three checks


# --------------------------------------------------------------------------- re-derivation


@pytest.mark.parametrize(("kwargs", "change", "field"), [
    ({"decision": "block"}, lambda d: d.update(decision="promote"), "decision"),
    ({"decision": "block"}, _fail_to_pass, "decision"),  # a status edit alone
    ({"decision": "block"}, lambda d: d["summary"].update(failed=0), "summary.failed"),
    ({}, lambda d: d["summary"].update(total=7), "summary.total"),
    ({}, lambda d: d["summary"].update(failed=1), "summary.failed"),
    ({}, lambda d: d["summary"].update(decided=5), "summary.decided"),
    ({"complete": False}, lambda d: d["summary"].update(complete=True), "summary.complete"),
    ({"complete": False}, lambda d: d["summary"].update(not_run=[]), "decision"),
    ({}, lambda d: d["suites"][0]["checks"].append(
        {**d["suites"][0]["checks"][0], "id": "x::y", "status": "fail"}), "decision"),
])
def test_one_field_edits_are_refused(reg: ModelRegistry, models: list[Path], tmp_path: Path,
                                     kwargs: dict[str, Any], change: Callable[[Doc], None],
                                     field: str) -> None:
    verdict = edit(make_verdict(tmp_path / "v.json", models[0], **kwargs), change)
    with pytest.raises(PromotionRefused) as info:
        promote(reg, models[0], verdict)
    assert f"{field} is " in str(info.value) and EDITED in str(info.value)
    assert reg.versions() == [] and reg.champion() is None


@pytest.mark.parametrize(("change", "where"), [
    (lambda d: d["suites"][0]["checks"][0].update(status="passed"),
     "suites[0].checks[0].status"),
    (lambda d: d["suites"][0]["checks"][0].update(blocking="yes"),
     "suites[0].checks[0].blocking"),
    (lambda d: d["suites"][0]["checks"][0].pop("blocking"), "suites[0].checks[0].blocking"),
    (lambda d: d["suites"][0]["checks"][0].pop("id"), "suites[0].checks[0].id"),
    (lambda d: d["suites"][0].pop("checks"), "suites[0].checks"),
    (lambda d: d.pop("summary"), "summary"),
    (lambda d: d["summary"].update(total="2"), "summary.total"),
    (lambda d: d["summary"].update(complete=1), "summary.complete"),
    (lambda d: d["summary"].pop("not_run"), "summary.not_run"),
    (lambda d: d.update(decision="PROMOTE"), "decision"),
    (lambda d: d.update(suites={}), "suites"),
])
def test_malformed_verdicts_name_the_field(models: list[Path], tmp_path: Path,
                                           change: Callable[[Doc], None], where: str) -> None:
    verdict = edit(make_verdict(tmp_path / "v.json", models[0]), change)
    with pytest.raises(PromotionRefused) as info:
        VerdictFile.load(verdict)
    assert f"{MALFORMED}: {where} " in str(info.value)


def test_consistent_block_and_partial_verdicts_say_why(reg: ModelRegistry, models: list[Path],
                                                       tmp_path: Path) -> None:
    with pytest.raises(PromotionRefused, match=NOT_PROMOTE.format(decision="block")):
        promote(reg, models[0], make_verdict(tmp_path / "b.json", models[0], decision="block"))
    with pytest.raises(PromotionRefused, match=INCOMPLETE.split("(")[0]):
        promote(reg, models[0], make_verdict(tmp_path / "p.json", models[0], complete=False))


def test_a_verdict_of_a_run_in_progress_is_refused(reg: ModelRegistry, tmp_path: Path) -> None:
    path = tmp_path / "verdict.json"
    path.write_text(dumps(in_progress(CANDIDATE, now())))
    with pytest.raises(PromotionRefused, match=IN_PROGRESS):
        promote(reg, CANDIDATE, path)


def test_a_consistent_forgery_passes_the_rederivation(reg: ModelRegistry, models: list[Path],
                                                      tmp_path: Path) -> None:
    """What the statuses alone cannot catch: this is why signatures exist (below)."""
    verdict = edit(make_verdict(tmp_path / "v.json", models[0], decision="block"), _forge)
    assert promote(reg, models[0], verdict).version.number == 1


# --------------------------------------------------------------------------- inputs' bytes


def test_a_suite_changed_since_the_run_is_refused(reg: ModelRegistry, models: list[Path],
                                                  tmp_path: Path) -> None:
    verdict = make_verdict(tmp_path / "v.json", models[0])
    suite = Path(json.loads(verdict.read_text())["suites"][0]["file"])
    suite.write_text(suite.read_text().replace("min: 0.85", "min: 0.95"))  # tightened
    with pytest.raises(PromotionRefused) as info:
        promote(reg, models[0], verdict)
    assert f"the suite 'adult-income' ({suite}) {CHANGED_SINCE}" in str(info.value)
    suite.unlink()
    with pytest.raises(PromotionRefused, match="not found"):
        promote(reg, models[0], verdict)
    assert reg.champion() is None


def test_a_dataset_changed_since_the_run_is_refused(reg: ModelRegistry, models: list[Path],
                                                    tmp_path: Path) -> None:
    data = tmp_path / "data.csv.gz"
    shutil.copyfile(ADULT_TEST, data)

    def point_at_copy(doc: Doc) -> None:
        doc["suites"][0]["dataset"]["path"] = str(data)

    verdict = edit(make_verdict(tmp_path / "v.json", models[0]), point_at_copy)
    data.write_bytes(data.read_bytes() + b"\n")
    with pytest.raises(PromotionRefused) as info:
        promote(reg, models[0], verdict)
    assert "the dataset of 'adult-income'" in str(info.value) and CHANGED_SINCE in str(info.value)


def test_paths_are_relative_to_where_the_gate_ran(reg: ModelRegistry, models: list[Path],
                                                  tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    verdict = make_verdict(tmp_path / "v.json", models[0])
    edit(verdict, lambda d: d["suites"][0].update(file="v.suite.yaml"))
    monkeypatch.chdir(tmp_path / "models")
    with pytest.raises(PromotionRefused) as info:
        promote(reg, models[0], verdict)
    assert "suites[0].file: v.suite.yaml not found in" in str(info.value)
    assert "run promote from the folder the gate ran in" in str(info.value)
    monkeypatch.chdir(tmp_path)
    assert promote(reg, models[0], verdict).version.number == 1


# --------------------------------------------------------------------------- signing


def test_sign_and_verify_round_trip(keys: tuple[Path, Path], models: list[Path],
                                    tmp_path: Path) -> None:
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    doc = json.loads(make_verdict(tmp_path / "v.json", models[0]).read_text())
    signed = sign(doc, private)
    kid = key_id(load_public_key(public))
    assert kid.startswith("ed25519:") and len(kid) == len("ed25519:") + 16
    assert signed["signature"]["key_id"] == kid and "signature" not in doc
    assert canonical(signed) == canonical(doc)
    reread = json.loads(dumps(signed))  # written indented, verified re-canonicalised
    assert verify(reread, [public]) == kid
    assert verify(reread, [public.read_text()]) == kid
    with pytest.raises(SignatureRejected, match=UNSIGNED):
        verify(doc, [public])
    other = generate(tmp_path / "other")[1]
    with pytest.raises(SignatureRejected, match=UNKNOWN_KEY):
        verify(reread, [other])
    reread["suites"][0]["checks"][0]["candidate"] = 0.99
    with pytest.raises(SignatureRejected, match=BAD_SIGNATURE):
        verify(reread, [public])


def test_bad_key_files_name_the_file(tmp_path: Path, models: list[Path],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    doc = json.loads(make_verdict(tmp_path / "v.json", models[0]).read_text())
    for path in (bad, tmp_path / "missing.pem"):
        with pytest.raises(SigningError, match=str(path)):
            sign(doc, path)
        with pytest.raises(SigningError, match=str(path)):
            verify(doc, [path])
    assert main(["registry", "init", "--registry", str(tmp_path / "r"),
                 "--require-signed", str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err


def test_keygen_writes_a_pair_and_refuses_to_overwrite(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["keygen"]) == 0
    out = capsys.readouterr().out
    private = tmp_path / ".evalgate" / "keys" / "evalgate-signing.pem"
    public = tmp_path / ".evalgate" / "keys" / "evalgate-signing.pub.pem"
    assert str(private.relative_to(tmp_path)) in out and "key id:      ed25519:" in out
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    before = private.read_bytes()
    assert main(["keygen"]) == 2
    assert "--force" in capsys.readouterr().err and private.read_bytes() == before
    assert main(["keygen", "--force", "--out", str(tmp_path / ".evalgate" / "keys")]) == 0
    assert private.read_bytes() != before and public.is_file()


def test_every_suite_must_have_been_judged_against_the_current_champion(
        tmp_path: Path) -> None:
    """Two suites, one naming the registry's champion and one a stale file: the top-level
    champion is the first suite's, so promote compared that one alone and a candidate never
    judged against the champion on the second suite's rows was promoted."""
    reg = Registry(tmp_path / "registry").model("adult")
    reg.promote(CHAMPION, VerdictFile.load(make_verdict(tmp_path / "first.json", CHAMPION)))
    stale = variant(tmp_path / "models", 7)  # same predictions, other bytes: another model
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "a.yaml").write_text(suite_text(champion=CHAMPION))
    (suites / "b.yaml").write_text(suite_text(champion=stale, name="adult-b"))
    outcomes = evaluate_paths(Gate(CANDIDATE), sorted(suites.glob("*.yaml")))
    written = finish(outcomes, candidate=CANDIDATE, report_dir=tmp_path / "reports", seed=None,
                     started_at=now(), duration_s=1.0, signing_key=None, suites_path=suites)
    doc = json.loads(written.verdict_path.read_text())
    assert doc["decision"] == "promote"
    assert [s["champion_sha256"] for s in doc["suites"]] == [sha256_file(CHAMPION),
                                                             sha256_file(stale)]
    with pytest.raises(PromotionRefused, match=r"adult-b.*judged against another champion"):
        reg.promote(CANDIDATE, VerdictFile.load(written.verdict_path))
    assert reg.champion().sha256 == sha256_file(CHAMPION)
    # a suite naming no champion: its comparisons were skipped ("a first release")
    (suites / "b.yaml").write_text(suite_text(champion=None, name="adult-b"))
    outcomes = evaluate_paths(Gate(CANDIDATE), sorted(suites.glob("*.yaml")))
    written = finish(outcomes, candidate=CANDIDATE, report_dir=tmp_path / "reports", seed=None,
                     started_at=now(), duration_s=1.0, signing_key=None, suites_path=suites)
    assert json.loads(written.verdict_path.read_text())["decision"] == "promote"
    with pytest.raises(PromotionRefused, match=r"adult-b.*names no champion"):
        reg.promote(CANDIDATE, VerdictFile.load(written.verdict_path))


def test_the_gate_signs_its_verdict(keys: tuple[Path, Path], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    private, public = keys
    monkeypatch.setenv("EVALGATE_SIGNING_KEY", str(private))
    assert read_settings(tmp_path).signing_key == private.resolve()
    suite = tmp_path / "s.yaml"
    suite.write_text(suite_text(champion=CHAMPION))
    outcomes = evaluate_paths(Gate(CANDIDATE), [suite])
    written = finish(outcomes, candidate=CANDIDATE, report_dir=tmp_path / "reports", seed=None,
                     started_at=now(), duration_s=1.0,
                     signing_key=read_settings(tmp_path).signing_key, suites_path=suite)
    doc = json.loads(written.verdict_path.read_text())
    assert doc["decision"] == "promote"
    assert verify(doc, [public]) == doc["signature"]["key_id"]
    reg = Registry(tmp_path / "registry")
    first = make_verdict(tmp_path / "first.json", CHAMPION)
    reg.model("adult").promote(CHAMPION, VerdictFile.load(first))  # before signing is required
    reg.init([public])
    unsigned = tmp_path / "reports" / "unsigned.json"
    unsigned.write_text(dumps({k: v for k, v in doc.items() if k != "signature"}))
    with pytest.raises(PromotionRefused, match=UNSIGNED):
        reg.model("adult").promote(CANDIDATE, VerdictFile.load(unsigned))
    p = reg.model("adult").promote(CANDIDATE, VerdictFile.load(written.verdict_path))
    assert p.key_id == doc["signature"]["key_id"]


# --------------------------------------------------------------------------- required signatures


def test_a_registry_that_requires_signatures(keys: tuple[Path, Path], reg: ModelRegistry,
                                             models: list[Path], tmp_path: Path) -> None:
    private, public = keys
    kid = key_id(load_public_key(public))
    assert Registry(reg.root).init([public]) == ((), (kid,))
    unsigned = make_verdict(tmp_path / "u.json", models[0])
    with pytest.raises(PromotionRefused, match=UNSIGNED):
        promote(reg, models[0], unsigned)

    blocked = make_verdict(tmp_path / "b.json", models[0], decision="block")
    signed_block = tmp_path / "sb.json"
    signed_block.write_text(dumps(sign(json.loads(blocked.read_text()), private)))
    forged = edit(signed_block, _forge)  # consistent, but the signature no longer matches
    with pytest.raises(PromotionRefused, match=BAD_SIGNATURE):
        promote(reg, models[0], forged)

    stranger = generate(tmp_path / "stranger")[0]
    by_stranger = tmp_path / "s.json"
    by_stranger.write_text(dumps(sign(json.loads(unsigned.read_text()), stranger)))
    with pytest.raises(PromotionRefused, match=UNKNOWN_KEY):
        promote(reg, models[0], by_stranger)
    assert reg.champion() is None

    good = tmp_path / "g.json"
    good.write_text(dumps(sign(json.loads(unsigned.read_text()), private)))
    p = promote(reg, models[0], good)
    assert p.key_id == kid
    entry = json.loads(reg.audit_path.read_text().splitlines()[-1])
    assert entry["action"] == "promote" and entry["signature"] == {"key_id": kid}
    assert reg.verify().ok


def test_removing_the_requirement_by_hand_is_tampering(keys: tuple[Path, Path],
                                                       champion: ModelRegistry,
                                                       models: list[Path],
                                                       tmp_path: Path) -> None:
    _, public = keys
    root = champion.root
    Registry(root).init([public])
    policy_state = root / ".policy" / "state.json"
    doc = json.loads(policy_state.read_text())
    doc.pop("require_signed")
    policy_state.write_text(json.dumps(doc))
    unsigned = make_verdict(tmp_path / "u.json", models[1], models[0])
    with pytest.raises(IntegrityError, match="required signing keys"):
        promote(champion, models[1], unsigned)
    shutil.rmtree(root / ".policy")  # the whole policy gone
    with pytest.raises(IntegrityError, match="registry's policy"):
        promote(champion, models[1], unsigned)
    assert not champion.verify().ok
    with pytest.raises(IntegrityError):
        resolve("registry:churn@champion", root)


def test_moving_the_policy_aside_is_seen_from_a_model_it_never_touched(
        keys: tuple[Path, Path], champion: ModelRegistry, models: list[Path],
        tmp_path: Path) -> None:
    """A model with no entry yet records no policy anchor: the registry's other models do,
    and a policy they recorded that is gone refuses every promote."""
    _, public = keys
    root = champion.root
    Registry(root).init([public])
    shutil.move(root / ".policy", tmp_path / "policy-aside")
    fresh = Registry(root).model("fresh")
    unsigned = make_verdict(tmp_path / "u.json", models[1])
    with pytest.raises(IntegrityError, match="registry's policy"):
        promote(fresh, models[1], unsigned)
    assert fresh.champion() is None
    shutil.move(tmp_path / "policy-aside", root / ".policy")  # put back: the rule holds again
    with pytest.raises(PromotionRefused, match=UNSIGNED):
        promote(fresh, models[1], unsigned)


def _forged_promotion(reg: ModelRegistry, model: Path, verdict: dict[str, Any]) -> None:
    """What anyone who can write the registry and run evalgate's own code can append: a
    register and a promote entry that continue the hash chain, with no gate behind them."""
    sha = sha256_file(model)
    with reg._locked() as state:
        version, _, state = reg._register(state, model, sha)
        reg._change(state, {"action": "promote", "alias": "champion",
                            "version": version.number, "sha256": sha,
                            "from": state.aliases.get("champion"), "verdict": verdict,
                            "signoff": None, "signature": None})


def test_audit_verify_refuses_a_promotion_without_its_verdict(
        champion: ModelRegistry, models: list[Path], tmp_path: Path) -> None:
    assert champion.verify().ok
    _forged_promotion(champion, models[1], {"sha256": "0" * 64, "decision": "promote"})
    assert champion.champion().number == 2  # the log itself is consistent
    problems = champion.verify().problems
    assert any("promotion of version 2" in p and "is missing" in p for p in problems), problems


def test_audit_verify_refuses_a_promotion_by_a_verdict_judged_without_the_champion(
        champion: ModelRegistry, models: list[Path], tmp_path: Path) -> None:
    """A genuine promote verdict gated with --no-champion (comparisons skipped), stored and
    appended as the promotion that replaced version 1."""
    first_release = make_verdict(tmp_path / "nc.json", models[1])
    raw = first_release.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    (champion.verdicts_dir / f"{sha}.json").write_bytes(raw)
    _forged_promotion(champion, models[1], {"sha256": sha, "decision": "promote"})
    problems = champion.verify().problems
    assert any("promotion of version 2" in p and "judged without a champion" in p
               and "replaced version 1" in p for p in problems), problems


def test_audit_verify_refuses_a_promotion_by_a_blocking_verdict(
        champion: ModelRegistry, models: list[Path], tmp_path: Path) -> None:
    blocked = make_verdict(tmp_path / "b.json", models[1], models[0], decision="block")
    raw = blocked.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    champion.verdicts_dir.mkdir(parents=True, exist_ok=True)
    (champion.verdicts_dir / f"{sha}.json").write_bytes(raw)  # stored, bytes as recorded
    _forged_promotion(champion, models[1], {"sha256": sha, "decision": "promote"})
    problems = champion.verify().problems
    assert any("promotion of version 2" in p and "block" in p for p in problems), problems
    for_other = make_verdict(tmp_path / "o.json", models[1], models[0])  # promote, other bytes
    raw = for_other.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    (champion.verdicts_dir / f"{sha}.json").write_bytes(raw)
    _forged_promotion(champion, models[2], {"sha256": sha, "decision": "promote"})
    problems = champion.verify().problems
    assert any("promotion of version 3" in p and "another model" in p for p in problems), \
        problems


def test_a_missing_version_folder_never_gives_its_number_to_another_model(
        champion: ModelRegistry, models: list[Path], tmp_path: Path) -> None:
    """A former champion's folder gone (a clean-up, a partial copy) must not let the next
    registration take its number: a rollback to that number would make an ungated model the
    champion."""
    promote(champion, models[1], make_verdict(tmp_path / "v1.json", models[1], models[0]))
    champion.rollback(reason="back")
    shutil.rmtree(champion.versions_dir / "2")
    assert any("version 2" in p and "missing" in p for p in champion.verify().problems)
    v, created = champion.register(models[2])
    assert created and v.number == 3
    with pytest.raises(EvalgateError, match="no version 2"):
        champion.rollback(to=2, reason="to the lost one")
    assert champion.champion().number == 1


def test_a_number_registered_twice_in_the_log_is_refused(champion: ModelRegistry,
                                                         models: list[Path]) -> None:
    """The log itself naming one version twice (two register entries) is tampering."""
    with champion._locked() as state:
        champion._change(state, {"action": "register", "version": 1,
                                 "sha256": sha256_file(models[2]), "derived_from": None})
    assert any("registered twice" in p for p in champion.verify().problems)
    with pytest.raises(IntegrityError, match="registered twice"):
        champion.checked_state()


def test_dropping_a_key_needs_force(keys: tuple[Path, Path], tmp_path: Path) -> None:
    reg = Registry(tmp_path / "registry")
    reg.init([keys[1]])
    with pytest.raises(EvalgateError, match="--force"):
        reg.init([])
    kid = key_id(load_public_key(keys[1]))
    assert reg.init([], force=True) == ((kid,), ())
    assert reg.policy() == ()


def test_promote_require_signed_flag(keys: tuple[Path, Path], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    private, public = keys
    m = variant(tmp_path / "models", 0)
    verdict = make_verdict(tmp_path / "reports" / "verdict.json", m)
    args = ["promote", str(m), "--name", "churn", "--require-signed", str(public)]
    assert main(args) == 1
    assert UNSIGNED in capsys.readouterr().err
    verdict.write_text(dumps(sign(json.loads(verdict.read_text()), private)))
    assert main(args) == 0
    assert f"signed by {key_id(load_public_key(public))}" in capsys.readouterr().out


def test_cli_registry_init_then_promote(keys: tuple[Path, Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    private, public = keys
    assert main(["registry", "init", "--require-signed", str(public)]) == 0
    kid = key_id(load_public_key(public))
    assert f"promote requires a verdict signed by {kid}" in capsys.readouterr().out
    m = variant(tmp_path / "models", 0)
    verdict = make_verdict(tmp_path / "reports" / "verdict.json", m)
    assert main(["promote", str(m), "--name", "churn"]) == 1
    assert "refused" in capsys.readouterr().err
    verdict.write_text(dumps(sign(json.loads(verdict.read_text()), private)))
    assert main(["promote", str(m), "--name", "churn"]) == 0
    assert main(["audit", "verify", "churn"]) == 0


# --------------------------------------------------------------------------- integrity on read


def _three(reg: ModelRegistry, models: list[Path], tmp_path: Path) -> ModelRegistry:
    promote(reg, models[0], make_verdict(tmp_path / "v0.json", models[0]))
    promote(reg, models[1], make_verdict(tmp_path / "v1.json", models[1], models[0]))
    return reg


def test_a_hand_edited_alias_is_refused_everywhere_and_not_laundered(
        reg: ModelRegistry, models: list[Path], tmp_path: Path) -> None:
    _three(reg, models, tmp_path)
    doc = json.loads(reg.state_path.read_text())
    doc["aliases"]["champion"] = 1  # v1 was champion, but not now
    reg.state_path.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError) as info:
        resolve("registry:churn@champion", reg.root)
    assert str(reg.state_path) in str(info.value)
    assert "champion=v1" in str(info.value) and "champion=v2" in str(info.value)
    suite = tmp_path / "s.yaml"
    suite.write_text(suite_text(champion=None))
    gate = Gate(CANDIDATE, champion="registry:churn@champion", resolve=resolver(reg.root))
    with pytest.raises(ModelLoadError, match=r"state\.json"):
        gate.champion_path(load_suite(suite))
    verdict = make_verdict(tmp_path / "v2.json", models[2], models[0])  # judged against v1
    with pytest.raises(IntegrityError):
        promote(reg, models[2], verdict)
    for change in (lambda: reg.set_alias("staging", 1), lambda: reg.rollback()):
        with pytest.raises(IntegrityError):
            change()
    assert len(reg.versions()) == 2
    assert not reg.verify().ok  # the tamper is still visible: nothing laundered it


def test_a_hand_edited_version_sha_is_refused(reg: ModelRegistry, models: list[Path],
                                              tmp_path: Path) -> None:
    _three(reg, models, tmp_path)
    record = reg.versions_dir / "1" / "version.json"
    doc = json.loads(record.read_text())
    (reg.versions_dir / "1" / "model.onnx").write_bytes(models[2].read_bytes())
    doc["sha256"] = sha256_file(models[2])  # version.json made to match swapped bytes
    record.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError) as info:
        resolve("registry:churn@1", reg.root)
    assert str(record) in str(info.value) and "register entry" in str(info.value)
    with pytest.raises(IntegrityError):
        reg.rollback()
    verdict = make_verdict(tmp_path / "v2.json", models[2], models[1])
    with pytest.raises(IntegrityError):
        promote(reg, models[2], verdict)


def test_the_registry_does_not_need_fcntl() -> None:
    package = Path(__file__).resolve().parent.parent / "evalgate" / "registry"
    source = "".join(p.read_text() for p in sorted(package.glob("*.py")))
    assert "import fcntl" not in source and "from filelock import" in source
