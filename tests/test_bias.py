"""The bias family: suite validation, per-group numbers against fairlearn, gaps and their
intervals against statsmodels, left-out groups, the champion comparison, and the gate end to
end (item ids, failure text, verdict.json)."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import TensorProto, helper

import evalgate.families.bias.check as bias
import evalgate.families.bias.spec  # noqa: F401
from conftest import CANDIDATE, CHAMPION, read_verdict, suite_text
from evalgate.cli import main
from evalgate.data import Dataset, encode_target, load_dataset
from evalgate.errors import SpecError
from evalgate.families import EvalContext, load_suite
from evalgate.families.bias import FAMILY as BIAS_FAMILY
from evalgate.families.bias.details import BiasDetails, GroupRow, ModelGap
from evalgate.families.bias.groups import show
from evalgate.families.bias.resample import cells_replicates
from evalgate.families.bias.spec import BiasSpec, Grouping
from evalgate.families.bias.tables import Prepared
from evalgate.models import load_model
from evalgate.models.predictions import Predictions, canonical
from evalgate.records import MALFORMED
from evalgate.report import render
from evalgate.spec import Suite
from evalgate.stats import mover_ratio, newcombe, wilson, z_of
from evalgate.stats.gaps import gap

# --------------------------------------------------------------------------- helpers


def write_suite(folder: Path, bias_yaml: str, *, frame: pd.DataFrame | None = None,
                task: str = "binary", target: str = "y", sensitive: str = "[g]",
                positive_label: Any = None, extra: str = "", n_resamples: int = 400) -> Path:
    """A suite with a bias section next to a small CSV (the data actually evaluated is
    passed to :func:`context` in memory, so dtypes and NaN stay exactly as built)."""
    frame = frame if frame is not None else pd.DataFrame({"g": ["a", "b"], "y": [0, 1]})
    frame.to_csv(folder / "data.csv", index=False)
    pos = f"  positive_label: {json.dumps(positive_label)}\n" if positive_label is not None \
        else ""
    body = textwrap.indent(textwrap.dedent(bias_yaml), "    ")
    text = (f"suite: s\ntask: {task}\ndata:\n  path: data.csv\n  target: {target}\n{pos}"
            f"  sensitive: {sensitive}\nseed: 0\nn_resamples: {n_resamples}\n{extra}"
            f"checks:\n  bias:\n{body}")
    path = folder / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def context(suite: Suite, frame: pd.DataFrame, cand: Any, champ: Any = None) -> EvalContext:
    data = Dataset(path=suite.data.path, sha256="0" * 64, rows=len(frame), frame=frame,
                   target=suite.data.target,
                   features=tuple(c for c in frame.columns if c != suite.data.target),
                   sensitive=suite.data.sensitive)
    target = encode_target(data, suite.task, suite.data.positive_label)
    dtype = np.float64 if suite.task == "regression" else np.int64
    champion = None if champ is None else Predictions(np.asarray(champ, dtype=dtype), None)
    return EvalContext(suite=suite, target=target,
                       candidate=Predictions(np.asarray(cand, dtype=dtype), None),
                       champion=champion, no_champion_reason="no champion given", data=data)


def results(tmp_path: Path, bias_yaml: str, frame: pd.DataFrame, cand: Any, champ: Any = None,
            **kwargs: Any) -> dict[str, Any]:
    suite = load_suite(write_suite(tmp_path, bias_yaml, frame=frame, **kwargs))
    out = bias.run(context(suite, frame, cand, champ), bias.plan(suite))
    return {r.name: r for r in out}


def bias_spec(tmp_path: Path, bias_yaml: str, **kwargs: Any) -> BiasSpec:
    return load_suite(write_suite(tmp_path, bias_yaml, **kwargs)).families["bias"]


def two_groups(n_a: int = 400, n_b: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.array(["a"] * n_a + ["b"] * n_b)
    return pd.DataFrame({"g": pd.array(g, dtype="str"), "y": rng.integers(0, 2, n_a + n_b)})


# --------------------------------------------------------------------------- the spec

DESIGN_EXAMPLE = """\
groups: [sex, race]         # each alone; a nested list [[sex, race]] for intersections
min_group_size: 30
metrics: [selection_rate, true_positive_rate, false_positive_rate]
max_difference: {selection_rate: 0.25, true_positive_rate: 0.15}
max_regression: 0.02        # a gap may grow by at most this vs the champion
"""


def test_design_example_parses_exactly_as_written(tmp_path: Path) -> None:
    spec = bias_spec(tmp_path, DESIGN_EXAMPLE, sensitive="[sex, race]")
    assert [g.columns for g in spec.groupings] == [("sex",), ("race",)]
    assert spec.min_group_size == 30
    assert [(m.name, m.max_difference, m.min_ratio, m.max_regression) for m in spec.metrics] == [
        ("selection_rate", 0.25, None, 0.02), ("true_positive_rate", 0.15, None, 0.02),
        ("false_positive_rate", None, None, 0.02)]
    assert spec.blocking


def test_plan_gives_one_item_per_grouping_and_metric(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, """\
        groups: [sex, [sex, race]]
        metrics: [selection_rate, equalized_odds]
        """, sensitive="[sex, race]"))
    names = [p.name for p in bias.plan(suite)]
    assert names == ["sex::selection_rate", "sex::equalized_odds",
                     "sex&race::selection_rate", "sex&race::equalized_odds"]
    assert suite.check_id("bias", names[2]) == "s::bias::sex&race::selection_rate"
    assert {p.family for p in bias.plan(suite)} == {"bias"}


def test_defaults(tmp_path: Path) -> None:
    spec = bias_spec(tmp_path, "max_difference: {demographic_parity: 0.1}\n",
                     sensitive="[sex, race]")
    assert [g.name for g in spec.groupings] == ["sex", "race"]  # data.sensitive, each alone
    assert (spec.min_group_size, spec.min_denominator) == (30, 10)
    assert [m.name for m in spec.metrics] == ["demographic_parity"]  # from the thresholds
    assert spec.reference == {} and spec.bins == {}


def test_one_number_applies_to_every_metric(tmp_path: Path) -> None:
    spec = bias_spec(tmp_path, """\
        metrics: [selection_rate, accuracy]
        max_difference: 0.1
        min_ratio: {accuracy: 0.9}
        """)
    assert [(m.name, m.max_difference, m.min_ratio) for m in spec.metrics] == [
        ("selection_rate", 0.1, None), ("accuracy", 0.1, 0.9)]


def test_bins_reference_and_intersections(tmp_path: Path) -> None:
    spec = bias_spec(tmp_path, """\
        groups: [sex, age, [sex, age]]
        bins: {age: [25, 45.5, 65]}
        reference: {sex: Male, age: 1}
        metrics: [mae]
        """, task="regression", sensitive="[sex, age]")
    assert spec.bins == {"age": (25.0, 45.5, 65.0)}
    assert spec.reference == {"sex": "Male", "age": "1"}
    assert spec.groupings[2] == Grouping(("sex", "age"), spec.groupings[2].line)
    assert spec.groupings[2].name == "sex&age"


MARK = "# <-"

BROKEN = [
    # (id, bias section, sensitive, task, key the error names, fragments)
    ("unknown key", "metrics: [accuracy]\nmax_diference: 0.1  # <-\n", "[g]", "binary",
     "max_diference", ("unknown key in bias", "did you mean 'max_difference'?")),
    ("unknown metric", "metrics: [selection_rte]  # <-\n", "[g]", "binary", "selection_rte",
     ("unknown bias metric 'selection_rte'", "did you mean 'selection_rate'?",
      "valid bias metrics: selection_rate, true_positive_rate")),
    ("metric of another task", "metrics: [mae]  # <-\n", "[g]", "binary", "mae",
     ("mae applies to other tasks",)),
    ("unknown metric in a threshold",
     "max_difference:\n  true_positive_rat: 0.1  # <-\n", "[g]", "binary", "true_positive_rat",
     ("did you mean 'true_positive_rate'?",)),
    ("threshold metric not listed",
     "metrics: [accuracy]\nmax_difference:\n  selection_rate: 0.1  # <-\n", "[g]", "binary",
     "selection_rate", ("not in bias metrics (accuracy); add it there",)),
    ("min_ratio zero", "metrics: [accuracy]\nmin_ratio: 0  # <-\n", "[g]", "binary",
     "min_ratio", ("min_ratio must lie in (0, 1]", "four-fifths")),
    ("min_ratio above one", "min_ratio:\n  selection_rate: 1.25  # <-\n", "[g]", "binary",
     "selection_rate", ("min_ratio must lie in (0, 1]",)),
    ("gap beyond a rate's range", "max_difference:\n  accuracy: 1.5  # <-\n", "[g]", "binary",
     "accuracy", ("exceeds the whole range of accuracy",)),
    ("negative margin", "metrics: [accuracy]\nmax_regression: -0.01  # <-\n", "[g]", "binary",
     "max_regression", ("must be zero or more",)),
    ("boolean threshold", "metrics: [accuracy]\nmax_difference: true  # <-\n", "[g]", "binary",
     "max_difference", ("expected a number",)),
    ("a number without metrics", "max_difference: 0.1  # <-\n", "[g]", "binary",
     "max_difference", ("needs the bias metrics listed",)),
    ("no metrics at all", "min_group_size: 5\n", "[g]", "binary", "bias",
     ("no metrics", "valid for task binary: selection_rate")),
    ("group column not sensitive", "groups: [g, sx]  # <-\nmetrics: [accuracy]\n",
     "[g, sex]", "binary", "groups",
     ("column 'sx' is not listed in data.sensitive", "did you mean 'sex'?",
      "add it to data.sensitive")),
    ("grouping twice", "groups: [g, h, [g, h],\n  [h, g]]  # <-\nmetrics: [accuracy]\n",
     "[g, h]", "binary", "groups", ("grouping 'h&g' is listed twice",)),
    ("column twice in an intersection", "groups: [[g, g]]  # <-\nmetrics: [accuracy]\n",
     "[g]", "binary", "groups", ("listed twice in an intersection",)),
    ("empty groups", "groups: []  # <-\nmetrics: [accuracy]\n", "[g]", "binary", "groups",
     ("the list of groups is empty",)),
    ("no groups and no sensitive columns", "metrics: [accuracy]\n", "[]", "binary", "groups",
     ("no groups",)),
    ("multiclass rate", "metrics: [selection_rate]  # <-\n", "[g]", "multiclass",
     "selection_rate", ("multiclass suite support accuracy only", "one-vs-rest binary suite")),
    ("bins for a column no grouping uses", "metrics: [mae]\nbins:\n  age: [30]  # <-\n",
     "[g]", "regression", "age", ("which no grouping uses",)),
    ("cut points not increasing", "groups: [age]\nmetrics: [mae]\nbins:\n  age: [40, 30]  # <-\n",
     "[age]", "regression", "age", ("must increase strictly",)),
    ("one bin", "groups: [age]\nmetrics: [mae]\nbins:\n  age: 1  # <-\n",
     "[age]", "regression", "age", ("at least 2",)),
    ("reference for an unknown column", "metrics: [accuracy]\nreference:\n  gg: a  # <-\n",
     "[g]", "binary", "gg", ("which no grouping uses", "did you mean 'g'?")),
    ("min_group_size zero", "metrics: [accuracy]\nmin_group_size: 0  # <-\n", "[g]", "binary",
     "min_group_size", ("must be at least 1",)),
    ("duplicate metric", "metrics: [accuracy,\n  accuracy]  # <-\n", "[g]", "binary",
     "accuracy", ("listed twice",)),
]


@pytest.mark.parametrize("case", BROKEN, ids=[c[0] for c in BROKEN])
def test_broken_bias_section_names_file_line_key(tmp_path: Path, case: tuple) -> None:
    _, yaml_text, sensitive, task, key, says = case
    frame = pd.DataFrame({"g": ["a", "b"], "y": [0.0, 1.0]})
    path = write_suite(tmp_path, yaml_text, frame=frame, task=task, sensitive=sensitive)
    text = path.read_text()
    marked = [i for i, line in enumerate(text.splitlines(), 1) if MARK in line]
    with pytest.raises(SpecError) as info:
        load_suite(path)
    err = info.value
    assert err.path == path and err.key == key, str(err)
    if marked:
        assert err.line == marked[0], str(err)
    else:
        assert err.line == text.splitlines().index("  bias:") + 1, str(err)
    for fragment in says:
        assert fragment in str(err), str(err)


# --------------------------------------------------------------------------- intervals


def test_wilson_matches_statsmodels() -> None:
    from statsmodels.stats.proportion import proportion_confint

    x, n = np.array([0, 3, 50, 97, 100]), np.array([10, 40, 100, 100, 100])
    for conf in (0.9, 0.95, 0.99):
        lo, hi = wilson(x, n, z_of(conf))
        slo, shi = proportion_confint(x, n, alpha=2 * (1 - conf), method="wilson")
        np.testing.assert_allclose(lo, slo, atol=1e-12)
        np.testing.assert_allclose(hi, shi, atol=1e-12)


def test_newcombe_matches_statsmodels() -> None:
    from statsmodels.stats.proportion import confint_proportions_2indep

    for x1, n1, x2, n2 in [(56, 70, 48, 80), (9, 10, 3, 10), (5, 56, 0, 29), (140, 160, 30, 100)]:
        lo, hi = newcombe(x1, n1, x2, n2, z_of(0.95))
        slo, shi = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff",
                                              alpha=0.1)
        assert (lo, hi) == pytest.approx((slo, shi), abs=1e-10)
    # Newcombe's own worked example (1998, Stat Med 17:873, table II, 56/70 − 48/80, 95%)
    lo, hi = newcombe(56, 70, 48, 80, z_of(0.975))
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)


def test_mover_ratio_brackets_the_ratio_and_agrees_with_katz_when_large() -> None:
    z = z_of(0.95)
    x1, n1, x2, n2 = 4000, 20000, 5000, 20000
    p1, p2 = x1 / n1, x2 / n2
    (l1, u1), (l2, u2) = (wilson(np.array(x), np.array(n), z) for x, n in ((x1, n1), (x2, n2)))
    lower, upper = mover_ratio(p1, float(l1), float(u1), p2, float(l2), float(u2))
    se = np.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)  # Katz's log interval
    assert lower == pytest.approx(p1 / p2 * np.exp(-z * se), rel=2e-3)
    assert upper == pytest.approx(p1 / p2 * np.exp(z * se), rel=2e-3)
    small = mover_ratio(0.1, *wilson(np.array(2), np.array(20), z), 0.5,
                        *wilson(np.array(10), np.array(20), z))
    assert small[0] is not None and small[1] is not None and small[0] < 0.2 < small[1]


def test_gap_is_vectorised_over_replicates_and_handles_references() -> None:
    v = np.array([[0.2, 0.5, 0.4], [0.1, 0.1, 0.3]])
    both = np.ones(3, dtype=bool)
    g = gap([v], both, None)
    np.testing.assert_allclose(g.difference, [0.3, 0.2])
    np.testing.assert_allclose(g.ratio, [0.4, 1 / 3])
    r = gap([v], both, 2)  # distance to group 2
    np.testing.assert_allclose(r.difference, [0.2, 0.2])
    np.testing.assert_allclose(r.ratio, [0.5, 1 / 3])
    one = gap([v[0]], np.array([True, True, False]), None)
    assert (float(one.difference), one.diff_ends) == (pytest.approx(0.3), (0, 1, 0))
    zero = gap([np.zeros(2)], np.ones(2, dtype=bool), None)
    assert float(zero.ratio) == 1.0  # equal groups, even at 0
    assert zero.diff_ends == (0, 0, 1)  # ties still name two groups
    eo = gap([np.array([0.9, 0.5]), np.array([0.1, 0.3])], np.ones(2, dtype=bool), None)
    assert float(eo.difference) == pytest.approx(0.4) and eo.diff_ends == (0, 0, 1)
    assert float(eo.ratio) == pytest.approx(1 / 3) and eo.ratio_ends == (1, 1, 0)


def test_labels_are_escaped_for_the_terminal() -> None:
    assert show("Male") == "'Male'"
    assert show("a\nb\x1b[31m") == "'a\\nb\\x1b[31m'"
    assert show("Fémale") == "'Fémale'"
    long = show("x" * 200)
    assert len(long) <= 60 and long.endswith("…'")


# --------------------------------------------------------------------------- Adult vs fairlearn


@pytest.fixture(scope="module")
def adult_preds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("adult")
    path = folder / "suite.yaml"
    path.write_text(suite_text(checks="  bias:\n    metrics: [accuracy]\n"), encoding="utf-8")
    suite = load_suite(path)
    data = load_dataset(suite.data)
    target = encode_target(data, "binary", ">50K")
    preds = {}
    for role, model_path in (("candidate", CANDIDATE), ("champion", CHAMPION)):
        model = load_model(model_path)
        preds[role] = canonical(model.predict(data.frame, data.features), "binary", target,
                                model.info, data.rows)
    return {"folder": folder, "data": data, "target": target, **preds}


def adult_run(adult_preds: dict[str, Any], bias_yaml: str, champion: bool = True,
              name: str = "suite.yaml") -> dict[str, Any]:
    path = adult_preds["folder"] / name
    checks = "  bias:\n" + textwrap.indent(textwrap.dedent(bias_yaml), "    ")
    path.write_text(suite_text(checks=checks), encoding="utf-8")
    suite = load_suite(path)
    ctx = EvalContext(suite=suite, target=adult_preds["target"],
                      candidate=adult_preds["candidate"],
                      champion=adult_preds["champion"] if champion else None,
                      no_champion_reason="no champion given", data=adult_preds["data"])
    return {r.name: r for r in bias.run(ctx, bias.plan(ctx.suite))}


RATE_METRICS = ["selection_rate", "true_positive_rate", "false_positive_rate",
                "false_negative_rate", "true_negative_rate", "precision", "accuracy"]


def test_adult_numbers_equal_fairlearn(adult_preds: dict[str, Any]) -> None:
    """Per-group values, counts, gaps and ratios equal fairlearn's MetricFrame, and the
    shortcuts fairlearn.metrics' demographic parity and equalized odds (fairlearn is slow,
    about a second per frame: the candidate on every grouping, the champion on one)."""
    import fairlearn.metrics as fm
    from sklearn.metrics import accuracy_score, precision_score

    def precision(y: Any, p: Any) -> float:
        return precision_score(y, p, zero_division=0)

    functions = {"selection_rate": fm.selection_rate,
                 "true_positive_rate": fm.true_positive_rate,
                 "false_positive_rate": fm.false_positive_rate,
                 "false_negative_rate": fm.false_negative_rate,
                 "true_negative_rate": fm.true_negative_rate,
                 "precision": precision, "accuracy": accuracy_score, "count": fm.count}
    got = adult_run(adult_preds, f"""\
        groups: [sex, race, [sex, race]]
        min_group_size: 1
        min_denominator: 1
        metrics: [{', '.join(RATE_METRICS)}, demographic_parity, equalized_odds]
        """)
    frame = adult_preds["data"].frame
    y = adult_preds["target"].y
    cases = [("candidate", "sex", ["sex"]), ("candidate", "race", ["race"]),
             ("candidate", "sex&race", ["sex", "race"]), ("champion", "sex", ["sex"])]
    for role, grouping, columns in cases:
        pred = adult_preds[role].label
        mf = fm.MetricFrame(metrics=functions, y_true=y, y_pred=pred,
                            sensitive_features=frame[columns])
        by_group, difference, ratio = mf.by_group, mf.difference(), mf.ratio()
        for metric in RATE_METRICS:
            r = got[f"{grouping}::{metric}"]
            assert r.status == "pass" and "informational" in r.message
            rows = r.details.groups
            assert len(rows) == len(by_group)
            for row in rows:
                assert row.left_out is None
                key = tuple(row.key) if len(columns) > 1 else row.key[0]
                assert row.count == by_group.loc[key, "count"]
                assert getattr(row, role).value == pytest.approx(by_group.loc[key, metric],
                                                                 abs=1e-12)
                rows_of = np.all([frame[c].to_numpy() == k
                                  for c, k in zip(columns, row.key)], axis=0)
                assert row.positives == int(y[rows_of].sum())
            gap_ = getattr(r.details.gap, role)
            assert gap_.difference == pytest.approx(difference[metric], abs=1e-12)
            assert gap_.ratio == pytest.approx(ratio[metric], abs=1e-12)
        dp = getattr(got[f"{grouping}::demographic_parity"].details.gap, role)
        eo = getattr(got[f"{grouping}::equalized_odds"].details.gap, role)
        assert dp.difference == pytest.approx(difference["selection_rate"], abs=1e-12)
        assert eo.difference == pytest.approx(
            max(difference["true_positive_rate"], difference["false_positive_rate"]), abs=1e-12)
        assert eo.ratio == pytest.approx(
            min(ratio["true_positive_rate"], ratio["false_positive_rate"]), abs=1e-12)
    sf = frame[["sex", "race"]]
    pred = adult_preds["candidate"].label
    dp = got["sex&race::demographic_parity"].details.gap.candidate
    eo = got["sex&race::equalized_odds"].details.gap.candidate
    assert dp.difference == pytest.approx(
        fm.demographic_parity_difference(y, pred, sensitive_features=sf), abs=1e-12)
    assert dp.ratio == pytest.approx(
        fm.demographic_parity_ratio(y, pred, sensitive_features=sf), abs=1e-12)
    assert eo.difference == pytest.approx(
        fm.equalized_odds_difference(y, pred, sensitive_features=sf), abs=1e-12)
    assert eo.ratio == pytest.approx(
        fm.equalized_odds_ratio(y, pred, sensitive_features=sf), abs=1e-12)


def test_adult_interval_and_failure_text(adult_preds: dict[str, Any]) -> None:
    from statsmodels.stats.proportion import confint_proportions_2indep

    got = adult_run(adult_preds, """\
        groups: [sex]
        max_difference: {selection_rate: 0.1}
        """, champion=False)
    r = got["sex::selection_rate"]
    assert r.status == "fail" and r.blocking
    frame, pred = adult_preds["data"].frame, adult_preds["candidate"].label
    male, female = (frame["sex"] == "Male").to_numpy(), (frame["sex"] == "Female").to_numpy()
    hi_x, lo_x = int(pred[male].sum()), int(pred[female].sum())
    assert r.candidate == pytest.approx(hi_x / male.sum() - lo_x / female.sum())
    lo, hi = confint_proportions_2indep(hi_x, male.sum(), lo_x, female.sum(), method="newcomb",
                                        compare="diff", alpha=0.1)
    assert r.ci == (None, pytest.approx(hi))
    assert r.details.candidate_ci == (pytest.approx(lo), pytest.approx(hi))
    assert r.method == "newcombe"
    for text in ("'Male' (0.2585, n=10,860)", "'Female' (0.0869, n=5,421)",
                 "is above max_difference 0.1", "95% upper bound", "retrain"):
        assert text in r.message, r.message
    assert r.threshold == {"max_difference": 0.1}
    json.dumps(r.as_dict())  # the per-group table is plain JSON


@pytest.mark.parametrize(("confidence", "shown"), [(0.975, "97.5%"), (0.9975, "99.75%")])
def test_the_confidence_is_written_as_given(tmp_path: Path, confidence: float,
                                            shown: str) -> None:
    frame = two_groups()
    r = results(tmp_path, "metrics: [selection_rate]\nmax_difference: 0.5\n", frame,
                frame["y"].to_numpy(), extra=f"confidence: {confidence}\n",
                n_resamples=2000)["g::selection_rate"]  # 5 replicates beyond 99.75%
    assert f", {shown} upper bound" in r.message, r.message


def test_adult_min_ratio_four_fifths(adult_preds: dict[str, Any]) -> None:
    got = adult_run(adult_preds, """\
        groups: [sex]
        min_ratio: {selection_rate: 0.8, accuracy: 0.8}
        """, champion=False)
    sr, acc = got["sex::selection_rate"], got["sex::accuracy"]
    assert sr.status == "fail" and "is below min_ratio 0.8" in sr.message
    assert sr.candidate == pytest.approx(0.0869 / 0.2585, abs=1e-3)
    assert sr.method == "mover-r-wilson" and sr.ci[1] is None and sr.ci[0] < sr.candidate
    assert acc.status == "pass" and acc.candidate > 0.8


def test_adult_reference_group(adult_preds: dict[str, Any]) -> None:
    got = adult_run(adult_preds, """\
        groups: [race]
        reference: {race: White}
        min_group_size: 140
        metrics: [selection_rate]
        """, champion=False)
    r = got["race::selection_rate"]
    rows = {row.group: row for row in r.details.groups}
    white = rows["White"].candidate.value
    kept = [row.candidate.value for row in rows.values() if row.left_out is None]
    assert r.details.reference == "White"
    assert r.candidate == pytest.approx(max(abs(v - white) for v in kept))
    assert rows["Other"].left_out == "135 rows < min_group_size 140"
    assert len(kept) == 4
    ends = r.details.gap.candidate.difference_ends
    assert "White" in (ends.high.group, ends.low.group)


def test_adult_unknown_reference_is_an_error_with_did_you_mean(adult_preds: dict[str, Any]
                                                               ) -> None:
    r = adult_run(adult_preds, """\
        groups: [race]
        reference: {race: Whit}
        metrics: [selection_rate]
        """, champion=False)["race::selection_rate"]
    assert r.status == "error"
    assert "reference group 'Whit' does not occur in race" in r.message
    assert "did you mean 'White'?" in r.message


def test_adult_champion_comparison_is_paired_and_deterministic(adult_preds: dict[str, Any]
                                                               ) -> None:
    yaml_text = """\
        groups: [sex]
        metrics: [true_positive_rate, false_positive_rate]
        max_regression: 0.02
        """
    first = adult_run(adult_preds, yaml_text)
    again = adult_run(adult_preds, yaml_text, name="again.yaml")
    for name, r in first.items():
        assert r.status == "pass", r.message
        assert r.method == "paired-stratified-bootstrap-cells-directional+tango-shift"
        assert r.delta == pytest.approx(r.champion - r.candidate)
        assert r.ci[0] is not None and r.ci[0] <= r.delta and r.ci[1] is None
        assert again[name].ci == r.ci  # same seed and id → same numbers
        assert r.threshold == {"max_regression": 0.02}
        champ_rows = [row.champion for row in r.details.groups]
        assert all(c is not None and c.value is not None for c in champ_rows)


def test_adult_without_champion_the_comparison_is_skipped(adult_preds: dict[str, Any]) -> None:
    got = adult_run(adult_preds, """\
        groups: [sex]
        metrics: [true_positive_rate, selection_rate]
        max_difference: {selection_rate: 0.25}
        max_regression: 0.02
        """, champion=False)
    tpr, sr = got["sex::true_positive_rate"], got["sex::selection_rate"]
    assert tpr.status == "skip" and "comparison with the champion skipped" in tpr.message
    assert sr.status == "pass" and "≤ max_difference 0.25" in sr.message
    assert "comparison with the champion skipped: no champion given" in sr.message
    assert sr.champion is None and sr.delta is None


# --------------------------------------------------------------------------- synthetic cases


def test_a_model_that_penalises_one_group_fails(tmp_path: Path) -> None:
    frame = two_groups()
    y = frame["y"].to_numpy()
    fair = y.copy()
    unfair = np.where(frame["g"] == "b", 0, y)  # never selects group b
    got = results(tmp_path, """\
        metrics: [selection_rate, true_positive_rate, equalized_odds]
        max_difference: 0.1
        max_regression: 0.02
        """, frame, unfair, fair)
    for name in ("g::selection_rate", "g::true_positive_rate", "g::equalized_odds"):
        r = got[name]
        assert r.status == "fail", r.message
        assert "'a' (" in r.message and "'b' (0.0000" in r.message
        assert "is above max_difference 0.1" in r.message
        assert "allowed by max_regression 0.02" in r.message
        assert r.delta < -0.3
    assert "positives of 400 rows" in got["g::true_positive_rate"].message


def test_a_candidate_fairer_than_its_champion_passes_max_regression(tmp_path: Path) -> None:
    frame = two_groups()
    y = frame["y"].to_numpy()
    unfair = np.where(frame["g"] == "b", 0, y)
    got = results(tmp_path, "metrics: [selection_rate]\nmax_regression: 0\n", frame, y, unfair)
    r = got["g::selection_rate"]
    assert r.status == "pass" and r.delta > 0.3 and r.ci[0] > 0
    assert r.champion > r.candidate


def test_identical_models_are_bounded_by_the_disagreement_rows_could_hide(tmp_path: Path
                                                                            ) -> None:
    """Δ = 0 exactly, but 400 agreeing rows a group cannot rule out a small disagreement the
    sample missed (Tango at b = c = 0): inconclusive at a zero margin, a pass at one the rows
    resolve. A bound of exactly 0 would pass a model worse on a share ε of rows with
    probability (1 − ε)ⁿ."""
    frame = two_groups()
    pred = np.random.default_rng(1).integers(0, 2, len(frame))
    for margin, status in ((0, "fail"), (0.02, "pass")):
        r = results(tmp_path, f"metrics: [accuracy]\nmax_regression: {margin}\n", frame,
                    pred, pred)["g::accuracy"]
        assert r.status == status and r.delta == 0, r.message
        assert -0.02 < r.ci[0] < -0.01 and r.method.endswith("+tango-shift")
        if status == "fail":
            assert "inconclusive" in r.message


@pytest.mark.parametrize("shift", [0.0, 0.01], ids=["identical", "shifted"])
@pytest.mark.parametrize("rates", [(0.40, 0.40), (0.42, 0.40), (0.45, 0.30)],
                         ids=["parity", "near parity", "apart"])
def test_identical_or_uniformly_shifted_models_are_not_blocked(tmp_path: Path, rates: tuple,
                                                               shift: float) -> None:
    """A candidate that changes nothing, or moves every group alike, keeps the gap: it
    passes a small margin even where the champion's groups tie (the shift bound)."""
    frame = two_groups(1500, 1500)
    is_b = (frame["g"] == "b").to_numpy()
    u = np.random.default_rng(8).random(len(frame))
    champ = (u < np.where(is_b, rates[1], rates[0])).astype(int)
    shifted = (u < np.where(is_b, rates[1], rates[0]) + shift).astype(int)
    got = results(tmp_path, "metrics: [selection_rate]\nmax_regression: 0.02\n", frame,
                  shifted, champ)["g::selection_rate"]
    assert got.status == "pass", got.message
    assert got.ci[0] >= -0.02


def test_a_candidate_that_only_looks_fairer_through_champion_noise_is_not_passed(
        tmp_path: Path) -> None:
    """The champion's groups differ by 0.06 (a 0.37, b 0.43 on 300 rows each: 1.5 standard
    errors, noise as likely as not); the candidate raises group a by 0.05 (15 rows). Its gap
    looks smaller (0.01 vs 0.06), but had the champion been at parity it would have widened
    it by 0.05: that cannot be ruled out. A plain bootstrap of the gap difference passes it
    at margin 0.05; the bound here does not."""
    frame = two_groups(300, 300)
    is_b = (frame["g"] == "b").to_numpy()
    idx_a, idx_b = np.flatnonzero(~is_b), np.flatnonzero(is_b)
    champ = np.zeros(len(frame), dtype=int)
    champ[idx_a[:111]] = 1  # a: 0.37
    champ[idx_b[:129]] = 1  # b: 0.43
    cand = champ.copy()
    cand[idx_a[111:126]] = 1  # a: 0.42
    r = results(tmp_path, "metrics: [selection_rate]\nmax_regression: 0.05\n", frame, cand,
                champ)["g::selection_rate"]
    assert r.delta == pytest.approx(0.05) and r.champion == pytest.approx(0.06)
    assert r.status == "fail" and r.ci[0] < -0.05
    # what a plain percentile bootstrap of the gap difference would say
    counts = np.array([[np.count_nonzero((champ[i] == c) & (cand[i] == k)) for c in (0, 1)
                        for k in (0, 1)] for i in (idx_a, idx_b)], dtype=float)
    draws = np.random.default_rng(0).multinomial([300, 300], counts / 300, size=(2000, 2))
    ch = draws[..., 2] + draws[..., 3]  # champion selects
    ca = draws[..., 1] + draws[..., 3]  # candidate selects
    plain = np.abs(ch[:, 0] - ch[:, 1]) / 300 - np.abs(ca[:, 0] - ca[:, 1]) / 300
    assert np.quantile(plain, 0.05) > -0.05  # it would have passed


def test_less_fair_within_noise_is_inconclusive_with_rows_to_resolve(tmp_path: Path) -> None:
    frame = two_groups(60, 60)
    y = frame["y"].to_numpy()
    rng = np.random.default_rng(0)
    champ = np.where(rng.random(len(y)) < 0.8, y, 1 - y)
    cand = champ.copy()
    b_rows = np.flatnonzero(frame["g"] == "b")
    cand[b_rows[:2]] = 1 - cand[b_rows[:2]]
    r = results(tmp_path, "metrics: [accuracy]\nmax_regression: 0.05\nmin_group_size: 10\n",
                frame, cand, champ)["g::accuracy"]
    assert -0.05 < r.delta < 0 and r.ci[0] < -0.05
    assert r.status == "fail" and "— inconclusive: the point estimate is within the margin" \
        in r.message
    assert r.details.rows_to_resolve_max_regression > len(frame)
    assert r.message.endswith("Evaluate on more rows, or accept a larger margin if that is "
                              "the intent.")


def test_tiny_groups_are_listed_with_the_reason_and_left_out(tmp_path: Path) -> None:
    frame = pd.concat([two_groups(), pd.DataFrame({"g": ["tiny"] * 5, "y": [1, 0, 1, 0, 1]})],
                      ignore_index=True)
    y = frame["y"].to_numpy()
    got = results(tmp_path, "metrics: [selection_rate]\n", frame, y)
    r = got["g::selection_rate"]
    assert r.status == "pass"
    rows = {row.group: row for row in r.details.groups}
    assert rows["tiny"].left_out == "5 rows < min_group_size 30"
    assert rows["tiny"].count == 5 and rows["tiny"].candidate.value == 0.6
    assert "left out: 'tiny' (5 rows < min_group_size 30)" in r.message
    assert r.details.n == 800  # the rows of the groups judged


def test_too_few_positives_leave_a_group_out_of_a_rate(tmp_path: Path) -> None:
    frame = two_groups()
    frame.loc[frame["g"] == "b", "y"] = 0
    frame.loc[frame.index[frame["g"] == "b"][:4], "y"] = 1  # 4 positives in b
    y = frame["y"].to_numpy()
    got = results(tmp_path, "metrics: [selection_rate, true_positive_rate, precision]\n",
                  frame, y)
    tpr = got["g::true_positive_rate"]
    assert tpr.status == "skip"
    assert "fewer than two groups of g can be judged (1 of 2)" in tpr.message
    assert "'b' (4 positives < min_denominator 10 (true_positive_rate))" in tpr.message
    prec = got["g::precision"]
    assert "the candidate's 4 predicted positives < min_denominator 10" in prec.message
    assert got["g::selection_rate"].status == "pass"  # rows enough for the selection rate


def test_empty_groups_of_a_categorical_column_and_of_bins(tmp_path: Path) -> None:
    frame = two_groups()
    frame["g"] = pd.Categorical(frame["g"], categories=["a", "b", "never"])
    frame["age"] = np.where(frame.index % 2 == 0, 20.0, 50.0)
    y = frame["y"].to_numpy()
    got = results(tmp_path, """\
        groups: [g, age]
        bins: {age: [30, 40, 60]}
        metrics: [accuracy]
        """, frame, y, sensitive="[g, age]")
    rows = {row.group: row for row in got["g::accuracy"].details.groups}
    assert list(rows) == ["a", "b", "never"]
    assert rows["never"].count == 0 and rows["never"].left_out == "no rows"
    assert rows["never"].candidate.value is None
    age = got["age::accuracy"]
    assert [row.group for row in age.details.groups] == ["< 30", "[30, 40)", "[40, 60)",
                                                              "≥ 60"]
    assert [row.count for row in age.details.groups] == [400, 0, 400, 0]
    assert age.status == "pass"


def test_missing_values_form_their_own_group(tmp_path: Path) -> None:
    frame = two_groups()
    g = frame["g"].astype(object)
    g[:50] = None
    frame["g"] = pd.array(g, dtype="str")
    frame["num"] = np.where(frame.index < 40, np.nan, (frame.index % 3).astype(float))
    y = frame["y"].to_numpy()
    got = results(tmp_path, """\
        groups: [g, num, [g, num]]
        metrics: [selection_rate]
        """, frame, y, sensitive="[g, num]")
    rows = got["g::selection_rate"].details.groups
    assert [(row.group, row.count) for row in rows] == [
        ("a", 350), ("b", 400), ("(missing)", 50)]
    num = [row.group for row in got["num::selection_rate"].details.groups]
    assert num == ["0", "1", "2", "(missing)"]  # 1.0 reads as 1
    inter = [row.group for row in got["g&num::selection_rate"].details.groups]
    assert "(missing) & (missing)" in inter and "a & 0" in inter
    assert all(r.status == "pass" for r in got.values())


def test_a_single_group_column_is_inconclusive_with_the_reason(tmp_path: Path) -> None:
    """Not a group under min_group_size: the data cannot show a gap, so fail (issue 11)."""
    frame = two_groups()
    frame["g"] = "only"
    y = frame["y"].to_numpy()
    r = results(tmp_path, "max_difference: {selection_rate: 0.1}\n", frame, y)[
        "g::selection_rate"]
    assert r.status == "fail" and r.blocks
    assert "inconclusive" in r.message
    assert "g has a single group ('only') in the data: there is nothing to compare" in r.message


def test_every_group_too_small_is_a_skip_not_a_pass(tmp_path: Path) -> None:
    frame = two_groups(10, 12)
    y = frame["y"].to_numpy()
    r = results(tmp_path, "max_difference: {selection_rate: 0.1}\n", frame, y)[
        "g::selection_rate"]
    assert r.status == "skip" and "(0 of 2)" in r.message
    assert "'a' (10 rows < min_group_size 30)" in r.message


def test_a_small_reference_group_is_a_skip(tmp_path: Path) -> None:
    frame = pd.concat([two_groups(), pd.DataFrame({"g": ["c"] * 5, "y": [1] * 5})],
                      ignore_index=True)
    r = results(tmp_path, "reference: {g: c}\nmetrics: [selection_rate]\n", frame,
                frame["y"].to_numpy())["g::selection_rate"]
    assert r.status == "skip" and "the reference group 'c' is left out" in r.message


def test_a_missing_group_column_is_an_error_with_did_you_mean(tmp_path: Path) -> None:
    frame = two_groups()
    suite = load_suite(write_suite(tmp_path, "metrics: [accuracy]\n", frame=frame))
    ctx = context(suite, frame.rename(columns={"g": "gg"}), frame["y"].to_numpy())
    [r] = bias.run(ctx, bias.plan(ctx.suite))
    assert r.status == "error" and r.blocking
    assert "bias group column 'g' not found (did you mean 'gg'?)" in r.message


def test_bins_on_a_text_column_are_an_error(tmp_path: Path) -> None:
    frame = two_groups()
    r = results(tmp_path, "bins: {g: 3}\nmetrics: [accuracy]\n", frame,
                frame["y"].to_numpy())["g::accuracy"]
    assert r.status == "error" and "bias bins need a numeric column" in r.message


def test_hostile_group_labels_are_escaped_in_messages_and_raw_in_details(tmp_path: Path) -> None:
    frame = two_groups()
    evil = "<script>x</script>\n\x1b[32mPASSED"
    frame["g"] = np.where(frame["g"] == "a", evil, "b")
    y = frame["y"].to_numpy()
    pred = np.where(frame["g"] == "b", 0, y)
    r = results(tmp_path, "max_difference: {selection_rate: 0.1}\n", frame, pred)[
        "g::selection_rate"]
    assert r.status == "fail"
    assert "\n" not in r.message and "\x1b" not in r.message
    assert repr(evil)[:20] in r.message
    assert evil in [row.group for row in r.details.groups]


def test_selected_checks_only_and_the_same_numbers_alone(tmp_path: Path) -> None:
    frame = two_groups()
    y = frame["y"].to_numpy()
    rng = np.random.default_rng(5)
    cand, champ = (np.where(rng.random(len(y)) < 0.8, y, 1 - y) for _ in range(2))
    suite = load_suite(write_suite(tmp_path, """\
        metrics: [selection_rate, accuracy]
        max_regression: 0.05
        """, frame=frame))
    ctx = context(suite, frame, cand, champ)
    every = {r.id: r for r in bias.run(ctx, bias.plan(ctx.suite))}
    alone = bias.run(ctx, [p for p in bias.plan(ctx.suite) if p.name == "g::accuracy"])
    assert [r.id for r in alone] == ["s::bias::g::accuracy"]
    assert alone[0].ci == every["s::bias::g::accuracy"].ci


def test_multiclass_accuracy_per_group(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"g": rng.choice(["a", "b"], 300), "y": rng.choice(["x", "y", "z"], 300)})
    truth = encode_target(Dataset(Path("."), "", 300, frame, "y", ("g",), ("g",)),
                          "multiclass").y
    pred = np.where(frame["g"] == "a", truth, (truth + 1) % 3)  # wrong on every b row
    got = results(tmp_path, "max_difference: {accuracy: 0.2}\n", frame, pred, task="multiclass")
    r = got["g::accuracy"]
    assert r.status == "fail" and r.candidate == 1.0
    assert {row.group: row.candidate.value for row in r.details.groups} == {
        "a": 1.0, "b": 0.0}
    assert all(row.positives is None for row in r.details.groups)


def test_regression_mae_rmse_per_group_and_binned(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n = 600
    frame = pd.DataFrame({"age": rng.uniform(18, 80, n), "y": rng.normal(100, 10, n)})
    noise = np.where(frame["age"] < 40, 2.0, 6.0)
    cand = frame["y"].to_numpy() + rng.normal(0, 1, n) * noise
    champ = frame["y"].to_numpy() + rng.normal(0, 1, n) * 4.0
    got = results(tmp_path, """\
        groups: [age]
        bins: {age: [40]}
        metrics: [mae, rmse]
        max_difference: {mae: 10}
        max_regression: {rmse: 0.5}
        """, frame, cand, champ, task="regression", sensitive="[age]")
    mae, rmse = got["age::mae"], got["age::rmse"]
    err = np.asarray(frame["y"]) - cand
    young = np.asarray(frame["age"] < 40)
    rows = {row.group: row for row in mae.details.groups}
    assert rows["< 40"].candidate.value == pytest.approx(np.abs(err[young]).mean())
    assert rows["≥ 40"].candidate.value == pytest.approx(np.abs(err[~young]).mean())
    rrows = {row.group: row for row in rmse.details.groups}
    assert rrows["≥ 40"].candidate.value == pytest.approx(
        np.sqrt((err[~young] ** 2).mean()))
    assert mae.status == "pass" and mae.method == "normal"
    lo, hi = rows["< 40"].candidate.ci
    assert lo < rows["< 40"].candidate.value < hi
    # the candidate's error gap (≈ 2 vs 6) is far wider than the champion's (≈ 4 vs 4)
    assert rmse.status == "fail" and rmse.method.startswith("paired-stratified-bootstrap")
    assert rmse.delta < -2


def test_regression_comparison_from_50000_rows_uses_normal_draws(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    n = 60_000
    frame = pd.DataFrame({"g": rng.choice(["a", "b", "c"], n), "y": rng.normal(0, 1, n)})
    y = frame["y"].to_numpy()
    cand = y + rng.normal(0, 1, n)
    champ = y + rng.normal(0, 1, n)
    r = results(tmp_path, "metrics: [mae]\nmax_regression: 0.05\n", frame, cand, champ,
                task="regression")["g::mae"]
    assert r.method.startswith("paired-stratified-normal-bootstrap")
    assert r.status == "pass", r.message


def test_the_comparison_bootstrap_resamples_within_groups() -> None:
    """One multinomial draw per group over its joint cells: each group keeps its rows, both
    models are read off the same draw, and a group's rate varies as a binomial of its size."""
    rng = np.random.default_rng(0)
    n_a, n_b = 2000, 200
    y = rng.integers(0, 2, n_a + n_b)
    cand = rng.integers(0, 2, n_a + n_b)
    champ = np.where(rng.random(n_a + n_b) < 0.9, cand, 1 - cand)
    code = np.r_[np.zeros(n_a, dtype=np.int64), np.ones(n_b, dtype=np.int64)]
    prepared = Prepared("binary", ("candidate", "champion"),
                             joint=(2 * y + cand) * 4 + (2 * y + champ), cells=4)
    counts = np.bincount(code * 16 + prepared.joint, minlength=32).reshape(2, 16).astype(float)
    cand_reps, champ_reps = cells_replicates(counts, np.array([True, True]),
                                             ["selection_rate"], rng, prepared, 4000)
    rate = np.array([cand[:n_a].mean(), cand[n_a:].mean()])
    np.testing.assert_allclose(cand_reps[0].mean(axis=0), rate, atol=0.01)
    np.testing.assert_allclose(cand_reps[0].var(axis=0), rate * (1 - rate) / [n_a, n_b],
                               rtol=0.1)
    assert np.corrcoef(cand_reps[0][:, 1], champ_reps[0][:, 1])[0, 1] > 0.7  # paired


@pytest.mark.slow
@pytest.mark.parametrize("champion_rates", [(0.40, 0.40), (0.45, 0.35)],
                         ids=["champion at parity", "champion apart"])
def test_false_pass_rate_of_max_regression_is_near_alpha(tmp_path: Path,
                                                         champion_rates: tuple) -> None:
    """At the boundary — the candidate raises group a by the margin, so its true gap exceeds
    the champion's by exactly the margin — the gate passes about α of the time at most
    (3,000 rows a group; a plain paired bootstrap passes about 23% at parity)."""
    rng = np.random.default_rng(11)
    n, margin = 3000, 0.016
    frame = two_groups(n, n)
    suite = load_suite(write_suite(tmp_path, f"metrics: [selection_rate]\n"
                                             f"max_regression: {margin}\n", frame=frame))
    is_b = (frame["g"] == "b").to_numpy()
    pa, pb = champion_rates
    passes, sims = 0, 300
    for i in range(sims):
        u = rng.random(len(frame))
        champ = np.where(is_b, u < pb, u < pa).astype(int)
        cand = np.where(is_b, u < pb, u < pa + margin).astype(int)
        seeded = dataclasses.replace(suite, seed=i)
        [r] = bias.run(context(seeded, frame, cand, champ), bias.plan(seeded))
        passes += r.status == "pass"
    assert passes / sims <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / sims)


# --------------------------------------------------------------------------- end to end


def penalising_model(path: Path) -> Path:
    """A binary classifier on the Adult columns that never selects a woman: P(>50K) =
    sigmoid((age − 40) / 8) for men, 0 for women."""
    f = TensorProto.FLOAT
    init = [helper.make_tensor("c40", f, [1], [40.0]), helper.make_tensor("c8", f, [1], [0.125]),
            helper.make_tensor("one", f, [1], [1.0])]
    nodes = [
        helper.make_node("LabelEncoder", ["sex"], ["male"], domain="ai.onnx.ml",
                         keys_strings=["Female", "Male"], values_floats=[0.0, 1.0],
                         default_float=0.0),
        helper.make_node("Sub", ["age", "c40"], ["centred"]),
        helper.make_node("Mul", ["centred", "c8"], ["scaled"]),
        helper.make_node("Sigmoid", ["scaled"], ["p_age"]),
        helper.make_node("Mul", ["p_age", "male"], ["p"]),
        helper.make_node("Sub", ["one", "p"], ["q"]),
        helper.make_node("Concat", ["q", "p"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["index"], axis=1, keepdims=0),
        helper.make_node("LabelEncoder", ["index"], ["label"], domain="ai.onnx.ml",
                         keys_int64s=[0, 1], values_strings=["<=50K", ">50K"],
                         default_string="?"),
    ]
    graph = helper.make_graph(
        nodes, "penalise_women",
        [helper.make_tensor_value_info("age", f, [None, 1]),
         helper.make_tensor_value_info("sex", TensorProto.STRING, [None, 1])],
        [helper.make_tensor_value_info("label", TensorProto.STRING, [None]),
         helper.make_tensor_value_info("probabilities", f, [None, 2])],
        initializer=init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("ai.onnx.ml", 2)])
    model.ir_version = 8
    helper.set_model_props(model, {"classes": '["<=50K", ">50K"]'})
    onnx.save(model, path)
    return path


E2E_CHECKS = """\
  bias:
    groups: [sex, [sex, race]]
    min_group_size: 30
    metrics: [selection_rate, true_positive_rate]
    max_difference: {selection_rate: 0.25, true_positive_rate: 0.15}
    max_regression: 0.02
"""


def test_gate_items_ids_verdict_table_and_a_fairer_candidate(pytester: pytest.Pytester,
                                                             gate_project) -> None:
    """The shipped candidate against a champion that never selects a woman: the candidate
    is far fairer, so max_regression passes; one item per (grouping, metric)."""
    unfair = penalising_model(pytester.path / "unfair.onnx")
    gate_project(champion=unfair, checks=E2E_CHECKS.replace("[sex, [sex, race]]", "[sex]"))
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "-v")
    result.stdout.fnmatch_lines([
        "suites/adult.yaml::bias::sex::selection_rate PASSED*",
        "suites/adult.yaml::bias::sex::true_positive_rate PASSED*",
        "*2 passed*",
    ])
    assert result.outlines[-1].startswith("evalgate: PROMOTE")
    checks = read_verdict(pytester.path)["suites"][0]["checks"]
    check = checks[0]
    assert check["id"] == "adult-income::bias::sex::selection_rate"
    assert check["family"] == "bias" and check["metric"] == "selection_rate"
    assert check["threshold"] == {"max_difference": 0.25, "max_regression": 0.02}
    for c in checks:  # the champion's gap is the whole male rate; the candidate's far less
        assert c["delta"] == pytest.approx(c["champion"] - c["candidate"])
        assert c["delta"] > 0.2 and c["ci"][0] > 0.2
    table = check["details"]["groups"]
    assert [row["group"] for row in table] == ["Female", "Male"]
    for row in table:
        assert set(row["candidate"]) == {"value", "ci", "denominator", "numerator"}
        assert row["champion"]["value"] is not None
    assert table[0]["champion"]["value"] == 0.0  # the champion never selects a woman


def test_gate_blocks_a_model_that_penalises_women(pytester: pytest.Pytester,
                                                  gate_project) -> None:
    unfair = penalising_model(pytester.path / "unfair.onnx")
    gate_project(checks=E2E_CHECKS)
    result = pytester.runpytest(f"--evalgate={unfair}", "-v")
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "suites/adult.yaml::bias::sex::selection_rate FAILED*",
        "suites/adult.yaml::bias::sex&race::selection_rate FAILED*",
        "*selection_rate gap 0.* between 'Male' (0.*, n=10,860) and 'Female' (0.0000, "
        "n=5,421)*is above max_difference 0.25*",
    ])
    assert "Traceback" not in out
    assert result.ret == 1
    assert result.outlines[-1].startswith("evalgate: BLOCK (4 of 4 checks failed)")
    verdict = read_verdict(pytester.path)
    assert verdict["decision"] == "block"


def test_a_candidate_cannot_drop_a_group_by_predicting_few_positives_there(
        tmp_path: Path) -> None:
    """Precision's denominator is the model's own predicted positives: a candidate that
    predicts almost none in group c left c out of its gap and passed on a and b. A group is
    left out for the data's sake only; for a model's, the check is inconclusive."""
    frame = pd.concat([two_groups(300, 300), two_groups(300, 0, seed=1).assign(g="c")],
                      ignore_index=True)
    rng = np.random.default_rng(2)
    champ = np.where(rng.random(len(frame)) < 0.8, frame["y"], 1 - frame["y"])
    starved = champ.copy()
    starved[(frame["g"] == "c").to_numpy()] = 0
    starved[np.flatnonzero((frame["g"] == "c").to_numpy() & (frame["y"] == 1).to_numpy())[:4]] = 1
    yaml = "metrics: [precision]\nmin_ratio: {precision: 0.8}\nmin_denominator: 10\n"
    got = results(tmp_path, yaml, frame, starved, champ)
    [check] = got.values()
    assert check.status == "fail"
    assert "'c' (the candidate's 4 predicted positives < min_denominator 10" in check.message
    [fair] = results(tmp_path, yaml, frame, champ, champ).values()
    assert "own predictions leave too few" not in fair.message  # the champion's own: judged


# --------------------------------------------------------------------------- typed details


def test_details_are_typed_and_round_trip_through_verdict_json(adult_preds: dict[str, Any],
                                                                tmp_path: Path) -> None:
    """Every kind of bias result — judged against the champion, informational, skipped, a
    single group, regression — reads back from its JSON as the very record it wrote."""
    got = list(adult_run(adult_preds, """\
        groups: [sex, [sex, race]]
        metrics: [selection_rate, equalized_odds, precision]
        max_difference: {selection_rate: 0.25}
        min_ratio: {precision: 0.8}
        max_regression: {selection_rate: 0.02, equalized_odds: 0.05}
        """).values())
    frame = two_groups(60, 60)
    rng = np.random.default_rng(0)
    champ = np.where(rng.random(len(frame)) < 0.8, frame["y"], 1 - frame["y"])
    cand = champ.copy()
    cand[np.flatnonzero(frame["g"] == "b")[:2]] ^= 1
    got += results(tmp_path, "metrics: [accuracy]\nmax_regression: 0.05\nmin_group_size: 10\n",
                   frame, cand, champ).values()  # inconclusive, with the rows to resolve it
    got += results(tmp_path, "metrics: [selection_rate]\n", two_groups(10, 12),
                   np.zeros(22, dtype=int)).values()  # skipped: every group too small
    assert {r.status for r in got} == {"pass", "fail", "skip"}
    assert any(r.details.rows_to_resolve_max_regression for r in got)
    for r in got:
        assert isinstance(r.details, BiasDetails)
        assert all(isinstance(row, GroupRow) for row in r.details.groups)
        data = json.loads(json.dumps(r.as_dict()))
        assert BiasDetails.from_dict(data["details"]) == r.details, r.id
        assert BIAS_FAMILY.details_of(data) == r.details, r.id
        if r.status != "skip" and "own predictions leave too few" not in r.message:
            assert isinstance(r.details.gap.candidate, ModelGap)
            assert r.details.candidate_method is not None


def bias_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A gate run of the shipped candidate with bias checks only; the verdict's path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "adult.yaml").write_text(suite_text(checks="""\
  bias:
    groups: [sex, race]
    min_group_size: 500
    metrics: [selection_rate, true_positive_rate]
    max_difference: {selection_rate: 0.25}
    max_regression: 0.06
"""))
    main(["run", str(CANDIDATE)])
    return tmp_path / "reports" / "verdict.json"


def test_the_report_draws_bias_charts_from_the_typed_details(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = bias_gate(tmp_path, monkeypatch)
    html = render(json.loads(path.read_text("utf-8")))
    assert html.count("Gap (candidate): difference") == 4
    assert "champion: difference" in html
    assert "<strong>Asian-Pac-Islander</strong> (480 rows &lt; min_group_size 500)" in html
    assert main(["report", str(path)]) == 0


def test_a_renamed_key_in_bias_details_fails_the_report_clearly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Not a report silently without its chart: the field is named, and nothing is written."""
    path = bias_gate(tmp_path, monkeypatch)
    doc = json.loads(path.read_text("utf-8"))
    check = doc["suites"][0]["checks"][0]
    gap_ = check["details"]["gap"]["candidate"]
    gap_["diff"] = gap_.pop("difference")
    path.write_text(json.dumps(doc), encoding="utf-8")
    (tmp_path / "reports" / "evalgate-report.html").unlink()
    capsys.readouterr()
    assert main(["report", str(path)]) == 1
    err = capsys.readouterr().err
    assert "VerdictError" in err and MALFORMED in err, err
    assert f"{check['id']}.details.gap.candidate.diff is not a field" in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "reports" / "evalgate-report.html").exists()


def test_paired_shifts_count_the_rows_only_one_model_has_the_event() -> None:
    """Selection rate counts rows; the true positive rate positives only; precision's
    denominator moves with the model, so no paired count bounds it."""
    from evalgate.families.bias.tables import Prepared, paired_shifts

    y = np.array([1, 1, 1, 0, 0, 0, 1, 0])
    cand = np.array([1, 0, 1, 1, 0, 1, 0, 0])
    champ = np.array([0, 0, 1, 0, 0, 1, 1, 1])
    prepared = Prepared("binary", ("candidate", "champion"),
                        joint=(2 * y + cand) * 4 + 2 * y + champ, cells=4)
    assert prepared.joint is not None
    joint = np.bincount(prepared.joint, minlength=16).reshape(1, 16).astype(float)
    sr, tpr = paired_shifts(joint, prepared, ["selection_rate", "true_positive_rate"])
    # only the candidate selects rows 0 and 3, only the champion rows 6 and 7
    assert (sr.b[0], sr.c[0], sr.n[0]) == (2, 2, 8)
    # among positives (rows 0, 1, 2, 6): the candidate alone row 0, the champion alone row 6
    assert (tpr.b[0], tpr.c[0], tpr.n[0]) == (1, 1, 4)
    assert paired_shifts(joint, prepared, ["precision"]) is None


def test_few_disagreements_in_small_groups_do_not_pass(tmp_path: Path) -> None:
    """The audit's regime: 50 rows a group, models that agree on every row. The paired
    bootstrap saw Δ = 0 in every replicate and passed; the rows cannot rule out that the
    candidate's gap is wider by the margin."""
    frame = two_groups(50, 50)
    pred = np.random.default_rng(3).integers(0, 2, len(frame))
    r = results(tmp_path, "metrics: [selection_rate]\nmax_regression: 0.016\n", frame, pred,
                pred)["g::selection_rate"]
    assert r.status == "fail" and "inconclusive" in r.message
    assert r.delta == 0 and r.ci[0] < -0.016
