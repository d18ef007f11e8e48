"""Sign-off as a real approval (issue: lineage and evidence): several reviewers, each with a
role, each approval optionally signed with the reviewer's Ed25519 key; a model's approval
policy (``evalgate registry policy NAME --require-approvals N [--require-role R]
[--reviewer-key NAME=PEM]``) that ``promote`` enforces; the candidate's author never counts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import CANDIDATE, CHAMPION, QUICK_CHECKS, suite_text
from evalgate.cli import main
from evalgate.verdict.signing import generate
from evalgate.verdict.signoff import approvals_of, verification

pytestmark = pytest.mark.e2e  # the gate runs through the CLI


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 released; the candidate registered by its author Ada and gated against v1
    (reports/verdict.json says promote); key pairs for Bob and Carol."""
    root = tmp_path_factory.mktemp("approvals")
    (root / "suites").mkdir()
    (root / "suites" / "adult.yaml").write_text(suite_text(checks=QUICK_CHECKS))
    (root / "pyproject.toml").write_text("[tool.evalgate]\n")
    for who in ("bob", "carol"):
        generate(root / "keys" / who)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for step in (["run", str(CHAMPION), "--no-champion", "--report", "reports/first"],
                     ["promote", str(CHAMPION), "--name", "adult", "--verdict",
                      "reports/first/verdict.json"],
                     ["register", str(CANDIDATE), "--name", "adult", "--author", "Ada"],
                     ["run", str(CANDIDATE), "--champion", "registry:adult@champion"]):
            assert main(step) == 0, step
    return root


@pytest.fixture
def project(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "p"
    shutil.copytree(built, copy)
    monkeypatch.chdir(copy)
    return copy


def _key(who: str, public: bool = False) -> str:
    folder = Path("keys") / who
    return str(next(p for p in folder.iterdir()
                    if p.name.endswith(".pub.pem") == public and p.suffix == ".pem"))


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def _promote(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    return _run(capsys, "promote", str(CANDIDATE), "--name", "adult")


def _sign(capsys: pytest.CaptureFixture[str], reviewer: str, *extra: str) -> None:
    status, out = _run(capsys, "signoff", "reports/verdict.json", "--reviewer", reviewer,
                       *extra)
    assert status == 0, out


def _policy(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    status, out = _run(capsys, "registry", "policy", "adult", *args)
    assert status == 0, out
    return out


def test_one_approval_where_two_are_required_is_refused(project: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    said = _policy(capsys, "--require-approvals", "2")
    assert "promote requires 2 approval(s)" in said
    _sign(capsys, "Bob")
    status, out = _promote(capsys)
    assert status == 1
    assert "requires 2 approvals by reviewers other than the author, 1 counted" in out
    _sign(capsys, "Bob", "--note", "again")       # the same reviewer twice is one approval
    assert _promote(capsys)[0] == 1
    _sign(capsys, "bob ")                         # and under another spelling
    assert _promote(capsys)[0] == 1
    _sign(capsys, "Carol")
    status, out = _promote(capsys)
    assert status == 0, out
    entry = json.loads((project / "registry" / "adult" / "audit.jsonl").read_text()
                       .splitlines()[-1])
    assert entry["action"] == "promote"


def test_the_authors_own_approval_does_not_count(project: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _policy(capsys, "--require-approvals", "1")
    _sign(capsys, "Ada")
    status, out = _promote(capsys)
    assert status == 1 and "Ada is the candidate's author: not counted" in out
    _sign(capsys, "Bob")
    assert _promote(capsys)[0] == 0


def test_the_author_under_another_spelling_or_as_the_registering_user_does_not_count(
        project: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`--author` is free text: "ADA " is still Ada; and whoever registered the candidate
    (the OS user that version.json records) is its author too, named or not."""
    from evalgate.registry import storage

    _policy(capsys, "--require-approvals", "1")
    _sign(capsys, " ada")
    status, out = _promote(capsys)
    assert status == 1 and "author: not counted" in out
    registered_by = storage.user()
    _sign(capsys, registered_by.upper())
    status, out = _promote(capsys)
    assert status == 1 and "author: not counted" in out
    _sign(capsys, "Bob")
    assert _promote(capsys)[0] == 0


def test_a_required_role_must_be_among_the_approvals(project: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _policy(capsys, "--require-approvals", "1", "--require-role", "risk")
    _sign(capsys, "Bob")
    status, out = _promote(capsys)
    assert status == 1 and "an approval with the role 'risk'" in out
    _sign(capsys, "Bob", "--role", "risk")
    assert _promote(capsys)[0] == 0


def test_an_approval_whose_signature_does_not_verify_is_refused(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _policy(capsys, "--require-approvals", "1")
    _sign(capsys, "Bob", "--role", "engineer", "--key", _key("bob"))
    path = project / "reports" / "signoff.json"
    doc = json.loads(path.read_text())
    assert verification(doc["approvals"][0])[0] is True
    doc["approvals"][0]["role"] = "risk"          # promoted to risk, by hand
    path.write_text(json.dumps(doc))
    status, out = _promote(capsys)
    assert status == 1
    assert "the approval by Bob does not verify" in out


def test_a_pinned_reviewer_counts_only_with_their_key(project: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    _policy(capsys, "--require-approvals", "1", "--reviewer-key", f"Bob={_key('bob', True)}")
    _sign(capsys, "Bob")                           # unsigned
    status, out = _promote(capsys)
    assert status == 1 and "not signed with their registered key" in out
    _sign(capsys, "Dave")                          # a name the policy does not know
    status, out = _promote(capsys)
    assert status == 1 and "Dave has no key in the policy: not counted" in out
    _sign(capsys, "Bob", "--key", _key("carol"))  # signed, by someone else's key
    assert _promote(capsys)[0] == 1
    _sign(capsys, "Bob", "--key", _key("bob"))
    status, out = _promote(capsys)
    assert status == 0, out


def test_the_policy_is_in_the_audit_log(project: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert "no approval policy" in _policy(capsys)
    _policy(capsys, "--require-approvals", "2", "--require-role", "risk")
    assert "roles: risk" in _policy(capsys)
    status, out = _run(capsys, "audit", "verify", "adult")
    assert status == 0, out
    audit = project / "registry" / "adult" / "audit.jsonl"
    lines = audit.read_text().splitlines()
    entry = json.loads(lines[-1])
    assert entry["action"] == "approval-policy" and entry["require_approvals"] == 2
    # loosened by hand: the chain breaks, and every registry command refuses
    entry["require_approvals"] = 0
    audit.write_text("\n".join([*lines[:-1], json.dumps(entry)]) + "\n")
    _sign(capsys, "Bob")
    status, out = _promote(capsys)
    assert status == 1, out


def test_the_report_shows_who_approved_and_whether_each_signature_verifies(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _sign(capsys, "Bob", "--role", "risk", "--key", _key("bob"))
    _sign(capsys, "Carol", "--note", "looks fine")
    html = (project / "reports" / "evalgate-report.html").read_text()
    assert "<li><strong>Bob</strong> (risk)" in html and "signature verifies" in html
    assert "<li><strong>Carol</strong>" in html and "unsigned" in html
    doc = json.loads((project / "reports" / "signoff.json").read_text())
    assert [a["reviewer"] for a in doc["approvals"]] == ["Bob", "Carol"]
    assert doc["reviewer"] == "Carol"  # the latest, for readers of signoff/1


def test_a_version_1_signoff_reads_as_one_unsigned_approval() -> None:
    doc = {"schema": "evalgate.signoff/1", "verdict_sha256": "a" * 64, "reviewer": "Ann",
           "note": "ok", "signed_at": "2026-01-01"}
    [approval] = approvals_of(doc, "a" * 64)
    assert approval["reviewer"] == "Ann" and verification(approval) == (None, "unsigned")
    assert approvals_of(doc, "b" * 64) == []


def test_the_promotion_records_every_approval_and_lineage_shows_them(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _policy(capsys, "--require-approvals", "2")
    _sign(capsys, "Bob", "--role", "risk", "--key", _key("bob"))
    _sign(capsys, "Carol")
    status, out = _promote(capsys)
    assert status == 0 and "signed off by Bob, Carol" in out
    entry = json.loads((project / "registry" / "adult" / "audit.jsonl").read_text()
                       .splitlines()[-1])
    approvals = entry["signoff"]["approvals"]
    assert [(a["reviewer"], a["role"]) for a in approvals] == [("Bob", "risk"), ("Carol", None)]
    assert approvals[0]["key_id"] and approvals[1]["key_id"] is None
    status, out = _run(capsys, "lineage", "adult")
    assert status == 0, out
    assert "signed off   by Bob (risk) at" in out and ", signed with key" in out
    assert "signed off   by Carol at" in out
