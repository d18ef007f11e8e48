"""verdict.json's typed model, its one reader, and the published JSON Schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import CANDIDATE, CHAMPION, ROOT, suite_text
from evalgate.engine import Gate, evaluate_paths
from evalgate.errors import VerdictError
from evalgate.verdict import build, now
from evalgate.verdict.model import MALFORMED_VERDICT, Verdict, parse
from evalgate.verdict.schema import SCHEMA_FILE, problems, text


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real verdict of the quick suite against the champion."""
    suite = tmp_path_factory.mktemp("model") / "suite.yaml"
    suite.write_text(suite_text(champion=CHAMPION))
    outcomes = evaluate_paths(Gate(CANDIDATE), [suite])
    return json.loads(json.dumps(build(outcomes, candidate=CANDIDATE, seed=None,
                                       started_at=now(), duration_s=1.0)))


def test_the_published_schema_is_the_one_the_model_describes() -> None:
    assert SCHEMA_FILE.read_text("utf-8") == text(), \
        "regenerate it: python -m evalgate.verdict.schema"
    assert (ROOT / "docs" / "verdict.schema.json").read_text("utf-8") == text()


def test_a_real_verdict_reads_back_and_validates(doc: dict[str, Any]) -> None:
    _, verdict = parse(json.dumps(doc), "verdict.json")
    assert isinstance(verdict, Verdict) and verdict.decision == doc["decision"]
    assert [c.id for c in verdict.checks] == [c["id"] for c in doc["suites"][0]["checks"]]
    assert verdict.to_dict() == doc  # the model writes back exactly what it read
    assert problems(doc) == []


@pytest.mark.parametrize(("edit", "where"), [
    (lambda d: d["suites"][0]["checks"][0].update(status="passed"), "status"),
    (lambda d: d["suites"][0]["checks"][0].pop("blocking"), "blocking"),
    (lambda d: d["suites"][0]["checks"][0].update(blocking="yes"), "blocking"),
    (lambda d: d["summary"].update(total="3"), "total"),
    (lambda d: d["candidate"].update(sha="x"), "sha"),
    (lambda d: d.update(decision="maybe"), "decision"),
    (lambda d: d["suites"][0]["checks"][0].update(ci=[0.1]), "ci"),
])
def test_a_malformed_verdict_is_refused_by_the_reader_and_the_schema(
        doc: dict[str, Any], edit: Any, where: str) -> None:
    bad = copy.deepcopy(doc)
    edit(bad)
    with pytest.raises(VerdictError, match=MALFORMED_VERDICT) as info:
        parse(json.dumps(bad), "v.json")
    assert where in str(info.value) and str(info.value).startswith("v.json: ")
    assert problems(bad), "the published schema must refuse it too"


def test_the_in_progress_verdict_validates(tmp_path: Path) -> None:
    from evalgate.verdict import in_progress

    doc = in_progress(CANDIDATE, now())
    assert problems(json.loads(json.dumps(doc))) == []
    assert parse(json.dumps(doc), "v")[1].in_progress


def test_the_test_hook_records_a_verdict_that_breaks_the_schema(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doc: dict[str, Any]) -> None:
    from evalgate.verdict.schema import VALIDATE_ENV, validate_if_asked

    log = tmp_path / "problems.txt"
    monkeypatch.setenv(VALIDATE_ENV, str(log))
    validate_if_asked(doc, "good.json")
    assert not log.exists()
    bad = copy.deepcopy(doc)
    bad["suites"][0]["checks"][0]["status"] = "passed"
    validate_if_asked(bad, "bad.json")
    assert log.read_text().startswith("bad.json: suites/0/checks/0/status: ")
