"""A check that reads no model (``Family.model_free``: drift of a column, of the label, the
domain classifier) is judged once per run with several challengers; one that reads a model
(the prediction's drift, every performance check) once per challenger. What the shared result
depends on is its key: a different level, seed or data judges it again."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from conftest import CANDIDATE, CHAMPION, EXAMPLES
from evalgate.engine import Gate, challengers
from evalgate.families import CheckPlan, EvalContext
from evalgate.families.drift import check as drift


def _head(name: str) -> str:
    """A suite's lines before its checks: the shipped rows and champion."""
    return (f"suite: {name}\ntask: binary\ndata:\n"
            f"  path: {EXAMPLES / 'data' / 'adult_test.csv.gz'}\n  target: income\n"
            f"  positive_label: \">50K\"\nchampion: {CHAMPION}\nseed: 0\nchecks:\n")


SUITE = _head("shared") + f"""\
  performance:
    accuracy: {{min: 0.8}}
  drift:
    reference: {EXAMPLES / "data" / "adult_train.csv.gz"}
    columns: [age, sex]
    max_drift: {{numeric: 0.1, categorical: 0.1}}
    prediction: {{max_drift: 0.1}}
    label: {{max_drift: 0.1}}
"""


@pytest.fixture
def judged(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the drift checks judged, in order."""
    names: list[str] = []
    one = drift._one

    def counted(ctx: EvalContext, p: CheckPlan, *args: Any) -> Any:
        names.append(p.name)
        return one(ctx, p, *args)

    monkeypatch.setattr(drift, "_one", counted)
    return names


def _suite(tmp_path: Path) -> Path:
    path = tmp_path / "shared.yaml"
    path.write_text(SUITE)
    return path


def test_model_free_checks_are_judged_once_for_all_challengers(tmp_path: Path,
                                                               judged: list[str]) -> None:
    gate = Gate(CANDIDATE)
    runs = challengers.run(gate, [CANDIDATE, CHAMPION], [_suite(tmp_path)])
    # the columns and the label once; the prediction (the challenger's own) for each
    assert sorted(judged) == ["age", "label", "prediction", "prediction", "sex"]
    first, second = ([r for o in c.outcomes for r in o.results] for c in runs)
    by_id = {r.id: r for r in second}
    for r in first:
        if r.family == "drift" and r.name != "prediction":
            assert by_id[r.id] == r  # the same judging, in each challenger's verdict
    # the champion as its own challenger has no prediction drift of its own to differ by:
    # but the candidate's does (its predictions are not the champion's)
    prediction = [r for r in first + second if r.name == "prediction"]
    assert prediction[0].candidate != prediction[1].candidate


def test_a_different_level_seed_or_data_judges_again(tmp_path: Path,
                                                     judged: list[str]) -> None:
    gate = Gate(CANDIDATE)
    suite = gate.load(_suite(tmp_path))
    gate.run_suite(suite)
    assert sorted(judged) == ["age", "label", "prediction", "sex"]
    judged.clear()
    gate.run_suite(suite)  # the same gate, suite, level and rows: the known results
    assert judged == ["prediction"]
    for changed in (dataclasses.replace(suite, confidence=0.9),
                    dataclasses.replace(suite, seed=1)):
        judged.clear()
        gate.run_suite(changed)
        assert sorted(judged) == ["age", "label", "prediction", "sex"]
    other = tmp_path / "other.csv"
    import pandas as pd

    pd.read_csv(EXAMPLES / "data" / "adult_test.csv.gz").head(4000).to_csv(other, index=False)
    judged.clear()
    rows = dataclasses.replace(suite.data, path=other, files=(other,))
    outcome = gate.run_suite(dataclasses.replace(suite, data=rows))
    assert outcome.dataset is not None and outcome.dataset.rows == 4000
    assert sorted(judged) == ["age", "label", "prediction", "sex"]


def test_an_error_is_not_handed_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that errored for one challenger (a transient failure) is judged again for the
    next, never copied."""
    calls: list[str] = []
    one = drift._one

    def flaky(ctx: EvalContext, p: CheckPlan, *args: Any) -> Any:
        calls.append(p.name)
        if p.name == "age" and calls.count("age") == 1:
            raise MemoryError("a transient failure")
        return one(ctx, p, *args)

    monkeypatch.setattr(drift, "_one", flaky)
    gate = Gate(CANDIDATE)
    runs = challengers.run(gate, [CANDIDATE, CHAMPION], [_suite(tmp_path)])
    assert calls.count("age") == 2
    status = [[r.status for o in c.outcomes for r in o.results if r.name == "age"]
              for c in runs]
    assert status[0] == ["error"] and status[1] != ["error"]


def test_a_reference_changed_between_challengers_is_judged_again(tmp_path: Path) -> None:
    """The result handed on is the one judged on the same reference bytes: a reference that
    changes on disk while the run goes from one challenger to the next (a concurrent writer)
    is judged again, and its drift found."""
    import pandas as pd

    reference = tmp_path / "reference.csv"
    rows = pd.read_csv(EXAMPLES / "data" / "adult_train.csv.gz")
    rows.to_csv(reference, index=False)
    suite = tmp_path / "ref.yaml"
    suite.write_text(_head("ref") + f"  drift:\n    reference: {reference}\n"
                     "    columns: [age]\n    max_drift: {numeric: 0.1, categorical: 0.1}\n")

    def progress(line: str) -> None:
        if line == "challenger champion":  # the second challenger is about to be judged
            rows.assign(age=rows["age"] + 30).to_csv(reference, index=False)

    runs = challengers.run(Gate(CANDIDATE, progress=progress), [CANDIDATE, CHAMPION], [suite])
    status = [[r.status for o in c.outcomes for r in o.results] for c in runs]
    assert status == [["pass"], ["fail"]]


LATENCY = _head("timed") + """\
  latency:
    batch_sizes: [1, 64]
    max_slowdown: 50
    max_calls: 60
    budget_s: 60
"""


@pytest.fixture
def loops(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The models each latency timing loop called, loop by loop."""
    from evalgate.families.latency import check as latency

    seen: list[list[str]] = []
    loop = latency._time_calls

    def counted(ctx: EvalContext, spec: Any, bs: int, models: dict[str, Any],
                *args: Any) -> Any:
        seen.append(list(models))
        return loop(ctx, spec, bs, models, *args)

    monkeypatch.setattr(latency, "_time_calls", counted)
    return seen


def _latency(results: list[Any], name: str) -> Any:
    [found] = [r for r in results if r.name == name]
    return found


def test_each_challenger_is_timed_with_the_champion_alone(tmp_path: Path,
                                                          loops: list[list[str]]) -> None:
    """No third model in a timing loop: another challenger of the run — heavy on memory, or
    just slow — would slow the calls that follow its own, the champion's more often than the
    candidate's in a rotated loop, or add the same cost to both and pull their ratio to 1.
    (An attack that did this made a 1.24× slower candidate pass a max_slowdown of 1.15.)"""
    suite = tmp_path / "timed.yaml"
    suite.write_text(LATENCY)
    runs = challengers.run(Gate(CANDIDATE), [CANDIDATE, CHAMPION, CANDIDATE], [suite])
    # per challenger, per batch size: the challenger and the champion, A B, B A
    assert loops == [["candidate", "champion"]] * 6
    for c in runs:
        for bs in ("batch_1", "batch_64"):
            check = _latency([r for o in c.outcomes for r in o.results], bs)
            assert check.details.candidate.calls == check.details.champion.calls == 60


def test_one_challenger_is_timed_with_the_champion_alone(tmp_path: Path,
                                                         loops: list[list[str]]) -> None:
    suite = tmp_path / "timed.yaml"
    suite.write_text(LATENCY)
    outcome = Gate(CANDIDATE).run_suite(Gate(CANDIDATE).load(suite))
    assert loops == [["candidate", "champion"]] * 2
    check = _latency(outcome.results, "batch_64")
    assert check.details.candidate.calls == check.details.champion.calls == 60


def test_the_champions_malformed_inputs_are_tried_once_for_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalgate.families.stress import check as stress

    tried: list[str] = []
    outcomes = stress.malformed_outcomes

    def counted(model: Any, *args: Any) -> Any:
        tried.append(Path(model.info.path).name)
        return outcomes(model, *args)

    monkeypatch.setattr(stress, "malformed_outcomes", counted)
    suite = tmp_path / "malformed.yaml"
    suite.write_text(LATENCY.replace("  latency:\n    batch_sizes: [1, 64]\n    max_slowdown: "
                                     "50\n    max_calls: 60\n    budget_s: 60\n",
                                     "  stress:\n    malformed:\n"))
    runs = challengers.run(Gate(CANDIDATE), [CANDIDATE, CHAMPION], [suite])
    # the champion once, each challenger (the champion's own file among them) once
    assert sorted(tried) == ["candidate.onnx", "champion.onnx", "champion.onnx"]
    [first, second] = [[r for o in c.outcomes for r in o.results] for c in runs]
    assert first[0].details.outcomes["champion"] == second[0].details.outcomes["champion"]
    # each judged on its own outcomes: the trees pass, the linear champion gives NaN
    assert (first[0].status, second[0].status) == ("pass", "fail")
