"""The robustness family: its suite section, its statistics, and its checks on models built
to be fragile, to use a sensitive column, or to break a monotonic relation; then the shipped
Adult example end to end through pytest."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from conftest import CANDIDATE, CHAMPION, ROOT, read_verdict, suite_text
from evalgate.data import encode_target, load_dataset
from evalgate.errors import SpecError, VerdictError
from evalgate.families import CheckResult, EvalContext, load_suite, plan_checks
from evalgate.families.robustness import FAMILY, details, monotonic
from evalgate.families.robustness import check as rb
from evalgate.families.robustness.details import (
    InvarianceDetails,
    MonotonicDetails,
    PerturbationDetails,
)
from evalgate.families.robustness.spec import Gates
from evalgate.models import ModelInfo, RawPrediction
from evalgate.models.fake import FakeModel
from evalgate.models.predictions import Predictions, canonical
from evalgate.models.sklearn import SklearnModel
from evalgate.records import MALFORMED
from evalgate.stats import newcombe_paired, wilson_bounds
from tests import modelzoo as mz

DESIGN_SECTION = """\
  robustness:
    perturbations:
      gaussian_noise: {columns: numeric, scale: 0.1}       # scale in units of each column's std
      missing_values: {columns: [age, hours-per-week], rate: 0.1}
      category_swap:  {columns: [workclass, occupation], rate: 0.1}
    max_flip_rate: 0.05         # share of rows whose predicted label changes
    max_regression: {roc_auc: 0.02}   # metric drop from clean to perturbed data
    invariant_to: [race]        # counterfactual swap of these columns
    monotonic: {education-num: increasing}
"""

MARK = "# <-"


# =========================================================================== suite section


def write_suite(folder: Path, checks: str, *, task: str = "binary", target: str = "income",
                positive: str | None = '">50K"', features: str = "",
                data: Path | None = None, champion: bool = False, seed: int = 0) -> Path:
    if data is None:
        data = folder / "data.csv"
        if not data.exists():
            mz.make_frame(40).to_csv(data, index=False)
    pos = f"  positive_label: {positive}\n" if positive and task == "binary" else ""
    champ = f"champion: {json.dumps(str(CHAMPION))}\n" if champion else ""
    text = (f"suite: s\ntask: {task}\ndata:\n  path: {json.dumps(str(data))}\n"
            f"  target: {target}\n{pos}{features}{champ}seed: {seed}\nn_resamples: 200\n"
            f"checks:\n{textwrap.indent(textwrap.dedent(checks), '  ')}")
    path = folder / "suite.yaml"
    path.write_text(text)
    return path


def test_the_design_example_parses_exactly_as_written(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, DESIGN_SECTION))
    spec = suite.families["robustness"]
    assert [(p.name, p.kind, p.columns, dict(p.params)) for p in spec.perturbations] == [
        ("gaussian_noise", "gaussian_noise", "numeric", {"scale": 0.1}),
        ("missing_values", "missing_values", ("age", "hours-per-week"), {"rate": 0.1}),
        ("category_swap", "category_swap", ("workclass", "occupation"), {"rate": 0.1}),
    ]
    family = Gates(max_flip_rate=0.05, max_regression=(("roc_auc", 0.02),))
    assert all(p.gates == family for p in spec.perturbations)
    assert [(i.column, i.gates.max_flip_rate) for i in spec.invariant_to] == [("race", 0.05)]
    (mono,) = spec.monotonic
    assert (mono.column, mono.direction, mono.tolerance, mono.examples) == (
        "education-num", "increasing", 1e-3, 100)
    assert [(p.family, p.name) for p in plan_checks(suite)] == [
        ("robustness", "gaussian_noise"), ("robustness", "missing_values"),
        ("robustness", "category_swap"), ("robustness", "invariant_to::race"),
        ("robustness", "monotonic::education-num")]
    lines = suite.path.read_text().splitlines()
    for p in plan_checks(suite):
        key = p.name.split("::")[-1]
        assert key in lines[p.line - 1], (p.name, p.line)


def test_overrides_named_instances_and_mapping_forms(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, """\
      robustness:
        perturbations:
          gaussian_noise: {scale: 0.2, max_flip_rate: 0.02, blocking: false}
          shuffled_only_drop: {type: shuffle, max_flip_rate: ~, max_flip_rate_increase: ~}
          noise_large: {type: gaussian_noise, columns: [age], scale: 1.0,
                        max_regression: {accuracy: 0.1}}
          scale: {columns: [capital-gain], factor: 100}
          outliers: {side: high, rate: 0.05}
          rounding: {decimals: -1}
          shuffle: ~
          unseen_category: {value: Mars}
        max_flip_rate: 0.1
        max_regression: {roc_auc: 0.02, log_loss: 0.05}
        max_flip_rate_increase: 0.01
        invariant_to: {sex: {max_flip_rate: 0}, workclass: ~,
                       race: {max_flip_rate: ~, max_flip_rate_increase: 0.02}}
        monotonic:
          age: {direction: decreasing, tolerance: 0.01, examples: 20, rows: 50}
          hours-per-week: increasing
    """))
    spec = suite.families["robustness"]
    p = {x.name: x for x in spec.perturbations}
    assert p["gaussian_noise"].gates == Gates(0.02, 0.01, (("roc_auc", 0.02), ("log_loss", 0.05)),
                                              None, False)
    assert p["noise_large"].kind == "gaussian_noise" and p["noise_large"].columns == ("age",)
    assert p["noise_large"].gates.max_regression == (("accuracy", 0.1),)  # replaced whole
    assert p["noise_large"].gates.max_flip_rate == 0.1
    assert p["shuffled_only_drop"].gates == Gates(
        max_regression=(("roc_auc", 0.02), ("log_loss", 0.05)))
    assert p["scale"].columns == ("capital-gain",) and p["outliers"].columns == "numeric"
    assert p["shuffle"].columns == "all"
    assert p["unseen_category"].columns == "categorical"
    assert dict(p["rounding"].params) == {"decimals": -1}
    assert p["gaussian_noise"].gates.as_dict() == {
        "max_flip_rate": 0.02, "max_regression.roc_auc": 0.02, "max_regression.log_loss": 0.05,
        "max_flip_rate_increase": 0.01}
    inv = {i.column: i.gates for i in spec.invariant_to}
    assert inv["sex"].max_flip_rate == 0 and inv["workclass"].max_flip_rate == 0.1
    assert inv["race"].max_flip_rate is None and inv["race"].max_flip_rate_increase == 0.02
    assert inv["sex"].max_regression == ()  # a metric drop means nothing for a counterfactual
    mono = {m.column: m for m in spec.monotonic}
    assert (mono["age"].direction, mono["age"].tolerance, mono["age"].examples,
            mono["age"].rows) == ("decreasing", 0.01, 20, 50)
    assert [c.name for c in plan_checks(suite)][-5:] == [
        "invariant_to::sex", "invariant_to::workclass", "invariant_to::race", "monotonic::age",
        "monotonic::hours-per-week"]
    assert [c.blocking for c in plan_checks(suite)][:2] == [False, True]


BROKEN = [
    ("unknown perturbation", """\
      robustness:
        perturbations:
          gausian_noise: {scale: 0.1}  # <-
        max_flip_rate: 0.05
    """, "gausian_noise", ("unknown perturbation 'gausian_noise' (did you mean 'gaussian_noise'?)",
                           "valid perturbations: gaussian_noise, scale, missing_values, "
                           "category_swap, unseen_category, outliers, rounding, shuffle")),
    ("unknown type", """\
      robustness:
        perturbations:
          mine: {type: blur}  # <-
        max_flip_rate: 0.05
    """, "type", ("unknown perturbation 'blur'", "valid perturbations: gaussian_noise")),
    ("rate above one", """\
      robustness:
        perturbations:
          missing_values: {columns: [age],
                           rate: 1.5}  # <-
        max_flip_rate: 0.05
    """, "rate", ("a rate must lie in [0, 1], got 1.5",)),
    ("negative scale", """\
      robustness:
        perturbations:
          gaussian_noise: {scale: -0.1}  # <-
        max_flip_rate: 0.05
    """, "scale", ("must be zero or more, got -0.1",)),
    ("negative factor", """\
      robustness:
        perturbations:
          scale: {factor: -3}  # <-
        max_flip_rate: 0.05
    """, "factor", ("must be above zero",)),
    ("scale without factor", """\
      robustness:
        perturbations:
          scale: {columns: [age]}  # <-
        max_flip_rate: 0.05
    """, "factor", ("missing required key in the scale perturbation",)),
    ("selector typo", """\
      robustness:
        perturbations:
          gaussian_noise: {columns: numerics}  # <-
        max_flip_rate: 0.05
    """, "columns", ("unknown column selector 'numerics' (did you mean 'numeric'?)",
                     "use numeric, categorical, all or a list of columns such as [numerics]")),
    ("selector of the wrong kind", """\
      robustness:
        perturbations:
          gaussian_noise: {columns: categorical}  # <-
        max_flip_rate: 0.05
    """, "columns", ("gaussian_noise applies to numeric columns, not categorical",)),
    ("unknown key in a perturbation", """\
      robustness:
        perturbations:
          category_swap: {rate: 0.1,
                          columnz: [sex]}  # <-
        max_flip_rate: 0.05
    """, "columnz", ("unknown key in the category_swap perturbation (did you mean 'columns'?)",
                     "valid keys: type, columns, rate, max_flip_rate")),
    ("unknown family key", """\
      robustness:
        perturbations: {shuffle: ~}
        max_flip_rates: 0.05  # <-
    """, "max_flip_rates", ("did you mean 'max_flip_rate'?",)),
    ("flip rate above one", """\
      robustness:
        perturbations: {shuffle: ~}
        max_flip_rate: 5  # <-
    """, "max_flip_rate", ("a share of rows must lie in [0, 1], got 5",)),
    ("unknown metric", """\
      robustness:
        perturbations: {shuffle: ~}
        max_regression: {roc_acu: 0.02}  # <-
    """, "roc_acu", ("unknown metric 'roc_acu' (did you mean 'roc_auc'?)",)),
    ("max_regression as a number", """\
      robustness:
        perturbations: {shuffle: ~}
        max_regression: 0.02  # <-
    """, "max_regression", ("expected a mapping of metric", "{roc_auc: 0.02}")),
    ("no threshold", """\
      robustness:
        perturbations:
          shuffle: {columns: [age]}  # <-
    """, "shuffle", ("no threshold: set max_flip_rate, max_regression or "
                     "max_flip_rate_increase",)),
    ("nothing to check", """\
      robustness:  # <-
        max_flip_rate: 0.05
    """, "robustness", ("nothing to check: give perturbations, invariant_to or monotonic",)),
    ("tolerance outside regression", """\
      robustness:
        perturbations: {shuffle: ~}
        max_flip_rate: 0.05
        tolerance: 0.1  # <-
    """, "tolerance", ("tolerance applies to regression suites",)),
    ("monotonic direction typo", """\
      robustness:
        monotonic: {age: increasng}  # <-
    """, "monotonic", ("unknown direction 'increasng' (did you mean 'increasing'?)",
                       "valid: increasing, decreasing")),
    ("class outside multiclass", """\
      robustness:
        monotonic:
          age: {direction: increasing,
                class: ">50K"}  # <-
    """, "class", ("class applies to multiclass suites",)),
    ("invariant to the target", """\
      robustness:
        max_flip_rate: 0.05
        invariant_to: [sex,
                       income]  # <-
    """, "invariant_to", ("'income' is the target, not a feature",)),
    ("invariance without threshold", """\
      robustness:
        invariant_to: [sex]  # <-
    """, "invariant_to", ("no threshold for invariant_to sex",)),
    ("reserved entry name", """\
      robustness:
        perturbations:
          monotonic: {type: shuffle}  # <-
        max_flip_rate: 0.05
    """, "monotonic", ("cannot name a perturbation entry",)),
    ("decimals not whole", """\
      robustness:
        perturbations:
          rounding: {decimals: 0.5}  # <-
        max_flip_rate: 0.05
    """, "decimals", ("expected a whole number",)),
    ("empty perturbations", """\
      robustness:
        perturbations: {}  # <-
        max_flip_rate: 0.05
    """, "perturbations", ("no perturbations",)),
]


@pytest.mark.parametrize("yaml,key,says", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_sections_name_file_line_and_key(tmp_path: Path, yaml: str, key: str,
                                                says: tuple[str, ...]) -> None:
    path = write_suite(tmp_path, yaml)
    with pytest.raises(SpecError) as info:
        load_suite(path)
    err = info.value
    want = [i for i, line in enumerate(path.read_text().splitlines(), 1) if MARK in line]
    assert err.line == want[0], str(err)
    assert err.key == key, str(err)
    for s in says:
        assert s in str(err), str(err)
    assert str(err).startswith(f"{path}:{want[0]}: {key}:")


def test_columns_checked_against_listed_features_at_spec_time(tmp_path: Path) -> None:
    path = write_suite(tmp_path, """\
      robustness:
        perturbations:
          missing_values: {columns: [agee]}
        max_flip_rate: 0.05
    """, features="  features: [age, sex]\n")
    with pytest.raises(SpecError, match=r"column 'agee' is not among data.features \(did you "
                                        r"mean 'age'\?\)"):
        load_suite(path)


def test_multiclass_monotonic_needs_a_class(tmp_path: Path) -> None:
    path = write_suite(tmp_path, "  robustness:\n    monotonic: {age: increasing}\n",
                       task="multiclass", target="grade")
    with pytest.raises(SpecError, match="a multiclass suite has no single score"):
        load_suite(path)


# =========================================================================== statistics


def test_wilson_matches_statsmodels() -> None:
    from statsmodels.stats.proportion import proportion_confint

    for k, n in ((0, 50), (3, 50), (25, 50), (50, 50), (137, 16281)):
        lo, hi = wilson_bounds(k, n, 0.95)
        want = proportion_confint(k, n, alpha=0.10, method="wilson")  # two one-sided 5% tails
        assert (lo, hi) == pytest.approx(want, abs=1e-12)


def test_newcombe_paired_interval() -> None:
    a = np.array([1, 1, 0, 0, 1, 0, 0, 0] * 50, dtype=bool)
    same = newcombe_paired(a, a, 0.95)
    assert same.estimate == 0 and same.lower < 0 < same.upper
    assert same.candidate_rate == same.champion_rate == a.mean()
    b = np.roll(a, 1)
    p = newcombe_paired(a, b, 0.95)
    assert (p.both, p.only_candidate, p.only_champion) == (
        int((a & b).sum()), int((a & ~b).sum()), int((b & ~a).sum()))
    assert p.estimate == pytest.approx(b.mean() - a.mean())
    assert p.lower < p.estimate < p.upper
    # pairing helps: positively correlated flips give a narrower interval than independent
    rng = np.random.default_rng(0)
    base = rng.random(2000) < 0.1
    correlated = base ^ (rng.random(2000) < 0.02)
    independent = rng.permutation(correlated)
    narrow = newcombe_paired(base, correlated, 0.95)
    wide = newcombe_paired(base, independent, 0.95)
    assert narrow.upper - narrow.lower < wide.upper - wide.lower


def test_newcombe_lower_bound_covers_at_the_stated_level() -> None:
    """One-sided non-coverage of the lower bound stays near 1 − confidence."""
    rng = np.random.default_rng(11)
    n, reps, miss = 300, 1500, 0
    for _ in range(reps):
        u = rng.random(n)
        cand = u < 0.08                               # candidate flips 8 %
        champ = (u < 0.05) | (rng.random(n) < 0.02)   # champion ≈ 6.9 %, correlated
        truth = (0.05 + 0.95 * 0.02) - 0.08
        if newcombe_paired(cand, champ, 0.95).lower > truth:
            miss += 1
    assert miss / reps < 0.075


# =========================================================================== checks

TRAIN = mz.make_frame(600, seed=0)
FEATURES = list(mz.FEATURES)


def sk(estimator: Any, name: str) -> SklearnModel:
    return SklearnModel(ModelInfo(path=f"<{name}>", sha256=name, format="skops", size=0),
                        estimator)


@pytest.fixture(scope="module")
def models() -> dict[str, SklearnModel]:
    knn = Pipeline([("pre", mz._preprocess(scale=True)),
                    ("clf", KNeighborsClassifier(n_neighbors=1))])
    no_sex = Pipeline([("pre", ColumnTransformer([("num", "passthrough", list(mz.NUMERIC))])),
                       ("clf", mz.classifier("logreg").steps[-1][1])])
    mid = TRAIN.assign(mid=((TRAIN["age"] >= 30) & (TRAIN["age"] < 50)).astype(int))
    bump = Pipeline([("pre", ColumnTransformer([("age", "passthrough", ["age"])])),
                     ("clf", DecisionTreeClassifier(max_depth=2, random_state=0))])
    band = TRAIN.assign(band=TRAIN["hours-per-week"].between(35, 45, inclusive="left").astype(
        int))
    hours_tree = Pipeline([("pre", ColumnTransformer([("h", "passthrough", ["hours-per-week"])])),
                           ("clf", DecisionTreeClassifier(max_depth=2, random_state=0))])
    return {
        "knn": sk(mz.fit(knn, TRAIN, "income"), "knn"),
        "logreg": sk(mz.fit(mz.classifier("logreg"), TRAIN, "income"), "logreg"),
        "no_sex": sk(mz.fit(no_sex, TRAIN, "income"), "no_sex"),
        "bump": sk(bump.fit(mid[["age"]], mid["mid"]), "bump"),
        "hours_tree": sk(hours_tree.fit(band[["hours-per-week"]], band["band"]), "hours_tree"),
        "linear": sk(mz.fit(mz.regressor("linear"), TRAIN, "price"), "linear"),
        "multi": sk(mz.fit(mz.classifier("logreg"), TRAIN, "grade"), "multi"),
    }


class Run:
    """A suite evaluated like the runner does (one canonical prediction per model and
    variant), with every ``predict`` request recorded."""

    def __init__(self, ctx: EvalContext, requests: list[tuple[str, str, Any]]):
        self.ctx, self.requests = ctx, requests

    def results(self, selected: set[str] | None = None) -> dict[str, CheckResult]:
        plans = [p for p in rb.plan(self.ctx.suite) if selected is None
                 or self.ctx.suite.check_id(p.family, p.name) in selected]
        return {r.name: r for r in rb.run(self.ctx, plans)}


def evaluate(folder: Path, checks: str, candidate: Any, champion: Any = None, *,
             task: str = "binary", target: str = "income", n: int = 2000, seed: int = 0,
             frame: pd.DataFrame | None = None) -> Run:
    data = folder / "eval.csv"
    (mz.make_frame(n, seed=1) if frame is None else frame).to_csv(data, index=False)
    pos = '">50K"' if target == "income" else None
    suite = load_suite(write_suite(folder, checks, task=task, target=target, positive=pos,
                                   data=data, seed=seed))
    dataset = load_dataset(suite.data)
    y = encode_target(dataset, suite.task, suite.data.positive_label)
    models = {"candidate": candidate} if champion is None else {
        "candidate": candidate, "champion": champion}
    clean = {role: canonical(m.predict(dataset.frame, dataset.features), suite.task, y, m.info,
                             dataset.rows) for role, m in models.items()}
    cache: dict[tuple[str, str], Predictions] = {}
    requests: list[tuple[str, str, Any]] = []

    def predict(role: str, frame: Any, variant: str) -> Predictions:
        requests.append((role, variant, frame))
        if (role, variant) not in cache:
            m = models[role]
            cache[role, variant] = canonical(m.predict(frame, dataset.features), suite.task, y,
                                             m.info, len(frame))
        return cache[role, variant]

    ctx = EvalContext(suite=suite, target=y, candidate=clean["candidate"],
                      champion=clean.get("champion"), data=dataset, predict=predict,
                      models=models)
    return Run(ctx, requests)


NOISE = """\
  robustness:
    perturbations:
      gaussian_noise: {columns: [age, hours-per-week, capital-gain], scale: 0.1}
    max_flip_rate: 0.05
"""


def test_a_fragile_model_flips_more_than_a_smooth_one(tmp_path: Path, models) -> None:
    fragile = evaluate(tmp_path, NOISE, models["knn"]).results()["gaussian_noise"]
    smooth = evaluate(tmp_path, NOISE, models["logreg"]).results()["gaussian_noise"]
    assert fragile.status == "fail" and smooth.status == "pass"
    assert fragile.candidate > 0.06 and smooth.candidate < 0.045
    assert fragile.candidate > 2 * smooth.candidate
    d = fragile.details
    assert d.flips == round(d.flip_rate * d.n) and d.n == 2000
    lo, hi = d.flip_rate_ci
    assert lo < fragile.candidate < hi and fragile.ci == (None, hi)
    assert d.rows_perturbed == 2000 and d.perturbation.columns == (
        "age", "hours-per-week", "capital-gain")
    assert "is above max_flip_rate 0.05" in fragile.message
    assert fragile.threshold == {"max_flip_rate": 0.05} and fragile.method == "wilson"
    assert "≤ max_flip_rate 0.05" in smooth.message


def test_fragility_against_the_champion_is_paired(tmp_path: Path, models) -> None:
    checks = NOISE.replace("max_flip_rate: 0.05", "max_flip_rate_increase: 0.01")
    worse = evaluate(tmp_path, checks, models["knn"], models["logreg"])
    r = worse.results()["gaussian_noise"]
    assert r.status == "fail" and r.method == "tango-score"
    assert r.delta == pytest.approx(r.champion - r.candidate) and r.delta < -0.03
    assert r.ci[0] < r.delta and r.ci[1] is None
    p = r.details.paired
    assert p.both + p.only_candidate == r.details.flips
    assert p.both + p.only_champion == r.details.champion_flips
    assert "allowed by max_flip_rate_increase 0.01" in r.message
    # both models saw the very same perturbed frame, predicted once each
    frames = [(role, variant, f) for role, variant, f in worse.requests]
    assert [(role, variant) for role, variant, _ in frames] == [
        ("candidate", "robustness::gaussian_noise"), ("champion", "robustness::gaussian_noise")]
    assert frames[0][2] is frames[1][2]
    better = evaluate(tmp_path, checks, models["logreg"], models["knn"]).results()
    assert better["gaussian_noise"].status == "pass"
    assert better["gaussian_noise"].delta > 0


def test_a_perturbation_that_changes_no_row_is_inconclusive(tmp_path: Path, models) -> None:
    """Rounding whole numbers to whole numbers, a rate of 0: no row changed, so no flip is
    no evidence — it passed, and counted towards a promote."""
    checks = ("  robustness:\n    perturbations:\n"
              "      rounding: {columns: [age], decimals: 0}\n"
              "      gaussian_noise: {columns: [age, hours-per-week], scale: 0.1}\n"
              "    max_flip_rate: 0.5\n")
    got = evaluate(tmp_path, checks, models["logreg"]).results()
    assert got["rounding"].status == "fail" and got["rounding"].details.rows_perturbed == 0
    assert "inconclusive: rounding changed no row" in got["rounding"].message
    assert got["gaussian_noise"].status == "pass"


def test_no_champion_skips_the_comparison(tmp_path: Path, models) -> None:
    checks = NOISE.replace("max_flip_rate: 0.05", "max_flip_rate_increase: 0.01")
    r = evaluate(tmp_path, checks, models["logreg"]).results()["gaussian_noise"]
    assert r.status == "skip" and "comparison with the champion skipped" in r.message


def test_metric_drop_from_clean_to_perturbed(tmp_path: Path, models) -> None:
    checks = """\
      robustness:
        perturbations:
          shuffle: {columns: [age, hours-per-week]}
          rounding: {columns: [capital-gain], decimals: 0}
        max_regression: {roc_auc: 0.02, accuracy: 0.02, log_loss: 0.05}
    """
    res = evaluate(tmp_path, checks, models["logreg"]).results()
    shuffled, rounded = res["shuffle"], res["rounding"]
    m = shuffled.details.metrics
    assert shuffled.status == "fail"
    assert m["roc_auc"].perturbed < m["roc_auc"].clean - 0.05
    assert m["roc_auc"].lower < m["roc_auc"].delta < 0 and not m["roc_auc"].passed
    assert m["roc_auc"].method == "delong"
    assert m["log_loss"].delta < 0  # oriented: positive would mean better
    assert "roc_auc" in shuffled.message and "allowed by max_regression 0.02" in shuffled.message
    assert shuffled.threshold == {"max_regression.roc_auc": 0.02, "max_regression.accuracy": 0.02,
                                  "max_regression.log_loss": 0.05}
    # capital-gain is in hundreds: rounding to units changes nothing, Δ is exactly zero —
    # which shows nothing: inconclusive
    assert rounded.status == "fail" and rounded.candidate == 0
    assert "changed no row" in rounded.message
    assert all(v.delta == 0 for v in rounded.details.metrics.values())


def test_every_perturbation_runs_once_per_model(tmp_path: Path, models) -> None:
    checks = """\
      robustness:
        perturbations:
          gaussian_noise: {}
          scale: {columns: [capital-gain], factor: 0.01}
          missing_values: {columns: [workclass]}
          category_swap: {}
          unseen_category: {}
          outliers: {}
          rounding: {decimals: -1}
          shuffle: {columns: [sex]}
        max_flip_rate: 1
        max_regression: {accuracy: 1}
        max_flip_rate_increase: 1
    """
    run = evaluate(tmp_path, checks, models["logreg"], models["knn"], n=400)
    res = run.results()
    assert {r.status for r in res.values()} == {"pass"}, [r.message for r in res.values()]
    assert sorted((role, v) for role, v, _ in run.requests) == sorted(
        (role, f"robustness::{name}") for name in res for role in ("candidate", "champion"))
    # the categorical features of the data (grade: another task's target, a feature here)
    assert res["category_swap"].details.perturbation.columns == ("workclass", "sex",
                                                                 "grade")
    # the same seed gives the same numbers
    again = evaluate(tmp_path, checks, models["logreg"], models["knn"], n=400).results()
    assert {k: r.as_dict() for k, r in res.items()} == {k: r.as_dict() for k, r in again.items()}


def test_columns_are_checked_against_the_data_at_run_time(tmp_path: Path, models) -> None:
    checks = """\
      robustness:
        perturbations:
          missing_values: {columns: [agee]}
          gaussian_noise: {columns: [workclass]}
        max_flip_rate: 0.05
    """
    res = evaluate(tmp_path, checks, models["logreg"], n=200).results()
    missing, noise = res["missing_values"], res["gaussian_noise"]
    assert missing.status == noise.status == "error"
    assert "suite.yaml:" in missing.message
    assert "column 'agee' is not in the data (did you mean 'age'?)" in missing.message
    assert "gaussian_noise applies to numeric columns, but 'workclass' is categorical" \
        in noise.message


def test_nan_from_the_candidate_errors_and_from_the_champion_skips(tmp_path: Path) -> None:
    def fragile(frame: pd.DataFrame) -> RawPrediction:  # like a model without imputation
        p = 1 / (1 + np.exp(-(frame["age"].to_numpy(float) - 45) / 10))
        return RawPrediction(proba=np.column_stack([1 - p, p]), classes=("<=50K", ">50K"))

    def robust(frame: pd.DataFrame) -> RawPrediction:
        p = 1 / (1 + np.exp(-(frame["age"].fillna(45).to_numpy(float) - 45) / 10))
        return RawPrediction(proba=np.column_stack([1 - p, p]), classes=("<=50K", ">50K"))

    checks = """\
      robustness:
        perturbations:
          missing_values: {columns: [age], rate: 0.1}
        max_flip_rate: 0.5
        max_flip_rate_increase: 0.01
    """
    bad = evaluate(tmp_path, checks, FakeModel(fragile, "fragile"), FakeModel(robust, "robust"),
                   n=300).results()["missing_values"]
    assert bad.status == "error"
    assert "on rows perturbed by missing_values" in bad.message and "NaN" in bad.message
    ok = evaluate(tmp_path, checks, FakeModel(robust, "robust"), FakeModel(fragile, "fragile"),
                  n=300).results()["missing_values"]
    assert ok.status == "pass" and ok.champion is None
    assert "the champion cannot predict these rows" in ok.message


def test_regression_flips_are_relative_moves(tmp_path: Path, models) -> None:
    checks = """\
      robustness:
        perturbations:
          gaussian_noise: {columns: [age], scale: 0.5}
          noise_tolerant: {type: gaussian_noise, columns: [age], scale: 0.5, tolerance: 0.5}
        max_flip_rate: 0.2
        tolerance: 0.02
        max_regression: {rmse: 50}
    """
    res = evaluate(tmp_path, checks, models["linear"], task="regression",
                   target="price").results()
    strict, loose = res["gaussian_noise"], res["noise_tolerant"]
    # price ≈ 200 + 2·(age − 45): noise of 0.5·17.9 years moves it by ≈ 18, i.e. ≈ 9 %
    assert strict.candidate > 0.5 and strict.status == "fail"
    assert strict.details.tolerance == 0.02
    assert loose.candidate == 0 and loose.status == "pass"
    assert strict.details.metrics["rmse"].delta < 0


def test_multiclass_flips(tmp_path: Path, models) -> None:
    checks = NOISE + "    max_regression: {accuracy: 0.05, log_loss: 0.5}\n"
    r = evaluate(tmp_path, checks, models["multi"], task="multiclass",
                 target="grade").results()["gaussian_noise"]
    assert 0 < r.candidate < 0.2 and set(r.details.metrics) == {"accuracy", "log_loss"}


# --------------------------------------------------------------------------- invariance


def test_a_model_that_uses_a_sensitive_column_fails_invariance(tmp_path: Path, models) -> None:
    checks = """\
      robustness:
        max_flip_rate: 0.01
        max_flip_rate_increase: 0
        invariant_to: [sex]
    """
    run = evaluate(tmp_path, checks, models["logreg"], models["no_sex"])
    r = run.results()["invariant_to::sex"]
    assert r.status == "fail" and r.candidate > 0.05
    d = r.details
    assert d.counterfactual_rows == 2000 and d.values_tried == 2  # one other value each
    assert set(d.per_value) == {"Male", "Female"}
    assert d.champion_flip_rate == 0  # the champion never reads sex
    assert "counterfactual sex flip rate" in r.message and "depend on sex" in r.message
    ex = d.examples[0]
    assert {ex.from_, ex.to} == {"Male", "Female"} and ex.before != ex.after
    # the example is real: that row with sex changed gets the other label
    frame = run.ctx.data.frame
    row = frame.iloc[[ex.data_row - 1]].assign(sex=ex.to)
    assert models["logreg"].predict(row, FEATURES).labels[0] == ex.after
    assert run.requests[0][1] == "robustness::invariant_to::sex"

    blind = evaluate(tmp_path, checks, models["no_sex"], models["logreg"]).results()
    assert blind["invariant_to::sex"].status == "pass"
    assert blind["invariant_to::sex"].candidate == 0


def test_invariance_over_many_values(tmp_path: Path, models) -> None:
    r = evaluate(tmp_path, "  robustness:\n    max_flip_rate: 0.5\n"
                           "    invariant_to: [workclass]\n",
                 models["logreg"]).results()["invariant_to::workclass"]
    assert r.details.values_tried == 3 and r.details.counterfactual_rows == 4000
    per = r.details.per_value
    assert sum(v.rows for v in per.values()) == 4000


# --------------------------------------------------------------------------- monotonic


def bump_frame(n: int = 1500) -> pd.DataFrame:
    f = mz.make_frame(n, seed=2)
    return f.assign(mid=((f["age"] >= 30) & (f["age"] < 50)).astype(int))


def test_a_non_monotonic_model_fails_with_a_minimal_counterexample(
        tmp_path: Path, models, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    checks = "  robustness:\n    monotonic: {age: increasing}\n"
    run = evaluate(tmp_path, checks, models["bump"], target="mid", frame=bump_frame())
    r = run.results()["monotonic::age"]
    assert r.status == "fail"
    ce = r.details.counterexample
    tree = models["bump"].estimator.steps[-1][1].tree_
    cuts = sorted(t for t in tree.threshold if t > 0)  # ≈ 29.5 and 49.5
    # shrunk to the smallest move that fails: one year, across the upper cut
    assert ce.after - ce.before == 1
    assert ce.before < cuts[-1] < ce.after
    assert ce.score_after < ce.score_before - 1e-3
    assert ce.wrong_way == pytest.approx(ce.score_before - ce.score_after)
    # the counterexample is real: re-predict the reported row at both values
    row = pd.DataFrame([ce.row])
    p = models["bump"].predict(pd.concat([row.assign(age=float(ce.before)),
                                          row.assign(age=float(ce.after))]), ["age"]).proba
    assert p[:, 1] == pytest.approx([ce.score_before, ce.score_after])
    assert ce.row["age"] == run.ctx.data.frame["age"].iloc[ce.data_row - 1]
    assert f"at data row {ce.data_row}, moving age from {ce.before} to {ce.after} " \
           f"lowers P(1)" in r.message
    assert r.details.violating_rows > 0 and r.candidate == r.details.violation_rate
    assert not (tmp_path / ".hypothesis").exists()
    # derandomised: the same seed gives the same counterexample
    again = evaluate(tmp_path, checks, models["bump"], target="mid", frame=bump_frame())
    assert again.results()["monotonic::age"].as_dict() == r.as_dict()

    down = evaluate(tmp_path, "  robustness:\n    monotonic: {age: decreasing}\n",
                    models["bump"], target="mid", frame=bump_frame()).results()["monotonic::age"]
    ce = down.details.counterexample
    assert down.status == "fail" and ce.before < cuts[0] < ce.after
    assert ce.after - ce.before == 1 and "raises P(1)" in down.message


def test_no_hypothesis_files_and_no_dependence_on_loaded_modules(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hypothesis mines constants from "local" modules and caches them in its storage
    directory: the gate neither writes there nor lets the modules loaded change its search."""
    from hypothesis import configuration

    def search(seen: list[tuple[float, ...]]) -> CheckResult:
        def fn(frame: pd.DataFrame) -> RawPrediction:
            if len(frame) == 2:
                seen.append(tuple(frame["age"]))
            p = 1 / (1 + np.exp(-0.2 * (frame["age"].to_numpy(float) - 45)))
            return RawPrediction(proba=np.column_stack([1 - p, p]), classes=("<=50K", ">50K"))
        checks = "  robustness:\n    monotonic: {age: increasing}\n"
        return evaluate(tmp_path, checks, FakeModel(fn, "up"), n=300).results()["monotonic::age"]

    home = tmp_path / "hypothesis-home"
    configuration.set_hypothesis_home_dir(home)
    try:
        first: list[tuple[float, ...]] = []
        search(first)
        local = tmp_path / "pkg_with_constants.py"  # a new local module full of constants
        local.write_text("A = [" + ", ".join(f"{i}, {i}.5" for i in range(18, 80)) + "]\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        __import__("pkg_with_constants")
        second: list[tuple[float, ...]] = []
        search(second)
        assert len(first) == 100 and second == first
        assert not home.exists()
    finally:
        configuration.set_hypothesis_home_dir(None)


def test_hypothesis_shrinks_between_grid_points(tmp_path: Path, models) -> None:
    """hours-per-week has more distinct values than the sweep's grid: the shrinker narrows
    the sweep's bracket (two grid points around the cut) to a short move across the cut."""
    tree = models["hours_tree"].estimator.steps[-1][1].tree_
    upper = max(tree.threshold)  # ≈ 45: P(band) drops from ≈ 1 to ≈ 0
    frame = mz.make_frame(2000, seed=1)
    frame = frame.assign(band=frame["hours-per-week"].between(35, 45, inclusive="left").astype(
        int))
    checks = "  robustness:\n    monotonic: {hours-per-week: increasing}\n"
    r = evaluate(tmp_path, checks, models["hours_tree"], target="band",
                 frame=frame).results()["monotonic::hours-per-week"]
    assert r.status == "fail"
    ce = r.details.counterexample
    grid = np.unique(np.quantile(frame["hours-per-week"], np.linspace(0, 1, monotonic.MAX_GRID),
                                 method="inverted_cdf"))
    assert r.details.grid_size == len(grid) == monotonic.MAX_GRID
    assert ce.before <= upper < ce.after
    assert ce.after - ce.before < np.diff(grid).max()  # finer than the sweep's bracket
    assert ce.score_after < ce.score_before - 0.5


def logistic(name: str, slope: float, column: str = "age") -> FakeModel:
    """A fake binary classifier whose P(>50K) is a logistic function of one column."""
    def fn(frame: pd.DataFrame) -> RawPrediction:
        p = 1 / (1 + np.exp(-slope * (frame[column].to_numpy(float) - 45)))
        return RawPrediction(proba=np.column_stack([1 - p, p]), classes=("<=50K", ">50K"))
    return FakeModel(fn, name)


def test_a_monotonic_model_passes(tmp_path: Path, models, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    checks = """\
      robustness:
        monotonic:
          age: increasing
          hours-per-week: {direction: decreasing, examples: 30, rows: 50}
    """
    wavy = FakeModel(lambda f: RawPrediction(
        proba=np.column_stack([0.5 - 0.4 * np.sin(f["age"].to_numpy(float) / 3),
                               0.5 + 0.4 * np.sin(f["age"].to_numpy(float) / 3)]),
        classes=("<=50K", ">50K")), "wavy")
    run = evaluate(tmp_path, checks, logistic("up", 0.2), wavy)
    res = run.results()
    age = res["monotonic::age"]
    assert age.status == "pass" and age.candidate == 0
    assert age.details.model_calls == 100  # the default examples budget, nothing to shrink
    assert age.details.champion_violation_rate > 0.9  # a sine is not monotonic
    assert age.champion is None  # a property of the candidate: no comparison
    hours = res["monotonic::hours-per-week"]  # the model ignores hours: flat is monotonic
    assert hours.status == "pass"
    assert hours.details.model_calls == 30 and hours.details.rows_swept == 50
    assert not (tmp_path / ".hypothesis").exists()
    real = evaluate(tmp_path, "  robustness:\n    monotonic:\n      age: {direction: "
                              "increasing, examples: 10}\n", models["logreg"])
    assert real.results()["monotonic::age"].status == "pass"  # income rises with age


def test_regression_monotonic(tmp_path: Path, models) -> None:
    checks = """\
      robustness:
        monotonic:
          age: {direction: increasing, examples: 20}
          hours-per-week: {direction: decreasing, examples: 20}
    """
    res = evaluate(tmp_path, checks, models["linear"], task="regression",
                   target="price").results()
    assert res["monotonic::age"].status == "pass"
    bad = res["monotonic::hours-per-week"]
    assert bad.status == "fail" and "raises the prediction" in bad.message
    ce = bad.details.counterexample
    assert ce.score_after > ce.score_before


def test_multiclass_monotonic_reads_the_named_class(tmp_path: Path, models) -> None:
    checks = """\
      robustness:
        monotonic:
          age: {direction: decreasing, class: C, examples: 20}
    """
    r = evaluate(tmp_path, checks, models["multi"], task="multiclass",
                 target="grade").results()["monotonic::age"]
    assert r.details.score == "P(C)" and r.status == "pass"


def test_monotonic_needs_a_numeric_column(tmp_path: Path, models) -> None:
    r = evaluate(tmp_path, "  robustness:\n    monotonic: {sex: increasing}\n",
                 models["logreg"], n=200).results()["monotonic::sex"]
    assert r.status == "error" and "monotonic needs a numeric column" in r.message


def test_selected_runs_only_those(tmp_path: Path, models) -> None:
    checks = NOISE + "    invariant_to: [sex]\n"
    run = evaluate(tmp_path, checks, models["logreg"], n=200)
    res = run.results({"s::robustness::invariant_to::sex"})
    assert list(res) == ["invariant_to::sex"]
    assert [v for _, v, _ in run.requests] == ["robustness::invariant_to::sex"]


# =========================================================================== typed details

#: the keys each kind of check has always written in its details (more may come, as null)
FLIP_KEYS = {"n", "flips", "flip_rate", "flip_rate_ci", "flip_rate_method"}
CHAMPION_FLIP_KEYS = {"champion_flips", "champion_flip_rate", "champion_flip_rate_ci", "paired",
                      "delta_ci", "delta_method"}
DETAIL_KEYS = {
    PerturbationDetails: FLIP_KEYS | {"perturbation", "rows_perturbed",
                                      "flip_rate_among_perturbed"},
    InvarianceDetails: FLIP_KEYS | {"column", "values_tried", "distinct_values",
                                    "counterfactual_rows", "pair_flips", "pair_flip_rate",
                                    "per_value", "examples"},
    MonotonicDetails: {"column", "direction", "tolerance", "score", "observed_range",
                       "rows_swept", "grid_size", "violating_rows", "violation_rate",
                       "violation_rate_ci", "examples_budget", "model_calls", "method"},
}


def round_trips(result: CheckResult, kind: type) -> dict[str, Any]:
    """``result``'s details are a ``kind`` record that reads back from its JSON as itself."""
    assert type(result.details) is kind, result.message
    data = result.as_dict()
    assert kind.from_dict(data["details"]) == result.details
    assert details.read(data) == result.details
    assert FAMILY.details_of(data) == result.details
    assert DETAIL_KEYS[kind] <= set(data["details"])
    return data["details"]


def test_details_round_trip_through_json(tmp_path: Path, models) -> None:
    checks = """\
      robustness:
        perturbations:
          gaussian_noise: {columns: [age, hours-per-week], scale: 0.1}
          shuffle: {columns: [age]}
        max_flip_rate: 0.05
        max_regression: {roc_auc: 0.02, log_loss: 0.001}
        max_flip_rate_increase: 0.01
        invariant_to: [sex, workclass]
        monotonic: {age: {direction: increasing, examples: 20}}
    """
    res = evaluate(tmp_path, checks, models["logreg"], models["knn"], n=400).results()
    noise = round_trips(res["gaussian_noise"], PerturbationDetails)
    assert CHAMPION_FLIP_KEYS <= set(noise) and set(noise["metrics"]) == {"roc_auc", "log_loss"}
    assert noise["metrics"]["roc_auc"]["champion_clean"] is not None
    round_trips(res["shuffle"], PerturbationDetails)
    sex = round_trips(res["invariant_to::sex"], InvarianceDetails)
    assert set(sex["examples"][0]) == {"data_row", "from", "to", "before", "after"}
    round_trips(res["invariant_to::workclass"], InvarianceDetails)
    age = round_trips(res["monotonic::age"], MonotonicDetails)
    assert age["counterexample"] is None and age["champion_violation_rate"] is not None

    # no champion; a regression suite (tolerance); a counterexample
    alone = evaluate(tmp_path, NOISE, models["knn"]).results()["gaussian_noise"]
    assert round_trips(alone, PerturbationDetails)["champion_flips"] is None
    reg = evaluate(tmp_path, "  robustness:\n    max_flip_rate: 0.5\n    invariant_to: [sex]\n"
                             "    monotonic: {hours-per-week: {direction: decreasing, "
                             "examples: 20}}\n", models["linear"], task="regression",
                   target="price", n=300).results()
    assert round_trips(reg["invariant_to::sex"], InvarianceDetails)["tolerance"] == 0.05
    bump = evaluate(tmp_path, "  robustness:\n    monotonic: {age: increasing}\n",
                    models["bump"], target="mid", frame=bump_frame()).results()
    for r in (reg["monotonic::hours-per-week"], bump["monotonic::age"]):
        ce = round_trips(r, MonotonicDetails)["counterexample"]
        assert set(ce) == {"data_row", "row", "column", "before", "after", "score_before",
                           "score_after", "wrong_way"}


def test_details_of_an_unknown_metric_are_refused() -> None:
    with pytest.raises(VerdictError, match=f"{MALFORMED}: s::robustness::x.details belong to "
                                           f"a robustness check whose metric 'accuracy'"):
        details.read({"id": "s::robustness::x", "metric": "accuracy", "details": {}})


GATE_CHECKS = """\
  robustness:
    perturbations:
      gaussian_noise: {columns: [age, hours-per-week], scale: 0.1}
    max_flip_rate: 0.05
    max_regression: {roc_auc: 0.02}
    max_flip_rate_increase: 0.03
    invariant_to: {race: {max_flip_rate: ~, max_flip_rate_increase: 0.02}}
    monotonic: {education-num: {direction: increasing, examples: 20}}
"""


@pytest.fixture(scope="module")
def gate_verdict(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real gate run (``evalgate run``) with each kind of robustness check: its verdict."""
    from evalgate.cli import main

    tmp = tmp_path_factory.mktemp("gate")
    (tmp / "suites").mkdir()
    (tmp / "suites" / "adult.yaml").write_text(suite_text(checks=GATE_CHECKS))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)
        main(["run", str(CANDIDATE)])
    return tmp / "reports" / "verdict.json"


def robustness_checks(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"].split("::", 2)[2]: c for s in verdict["suites"] for c in s["checks"]
            if c["family"] == "robustness"}


def test_the_report_draws_the_typed_details(gate_verdict: Path) -> None:
    checks = robustness_checks(json.loads(gate_verdict.read_text()))
    assert list(checks) == ["gaussian_noise", "invariant_to::race", "monotonic::education-num"]
    kinds = [PerturbationDetails, InvarianceDetails, MonotonicDetails]
    for check, kind in zip(checks.values(), kinds):
        typed = FAMILY.details_of(check)
        assert type(typed) is kind and typed.to_dict() == check["details"]
    html = (gate_verdict.parent / "evalgate-report.html").read_text()
    section = html[html.index('<section id="robustness-1">'):]
    section = section[:section.index("</section>")]
    noise = checks["gaussian_noise"]["details"]
    assert "Flip rate per perturbation" in section
    assert f"{noise['flips']} of {noise['n']:,}" in section
    assert "roc_auc " in section and "Counterexample" in section
    ce = checks["monotonic::education-num"]["details"]["counterexample"]
    assert f"Data row {ce['data_row']}: moving <code>education-num</code>" in section


RENAMED = [
    ("gaussian_noise", "flip_rate", "flip_share", "is not a field of perturbation details"),
    ("gaussian_noise", "flip_rate_ci", None, "is missing"),
    ("invariant_to::race", "examples", "samples", "is not a field of invariance details"),
    ("monotonic::education-num", "counterexample", "counter_example",
     "is not a field of monotonic details"),
]


@pytest.mark.parametrize("name,key,new,says", RENAMED,
                         ids=[f"{r[0]}.{r[1]}" for r in RENAMED])
def test_a_renamed_detail_fails_the_report_loudly(gate_verdict: Path, tmp_path: Path,
                                                  name: str, key: str, new: str | None,
                                                  says: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A verdict whose robustness details lost a key (renamed or dropped) is refused with the
    path of the field, rather than drawn without its chart."""
    from evalgate.cli import main

    verdict = json.loads(gate_verdict.read_text())
    found = robustness_checks(verdict)[name]["details"]
    value = found.pop(key)
    if new is not None:
        found[new] = value
    path = tmp_path / "verdict.json"
    path.write_text(json.dumps(verdict))
    capsys.readouterr()
    assert main(["report", str(path)]) == 1
    err = capsys.readouterr().err
    field = f"adult-income::robustness::{name}.details.{new or key}"
    assert err.startswith(f"evalgate: {path}: cannot render the report from this verdict "
                          f"(VerdictError: {MALFORMED}: {field} {says}"), err
    assert not (tmp_path / "evalgate-report.html").exists()


# =========================================================================== end to end


def adult_project(pytester: pytest.Pytester, section: str | None = None) -> None:
    """The shipped suite (suites/adult.yaml), paths made absolute; with ``section``, its
    robustness section replaced by that one."""
    pytester.makeini("[pytest]\n")
    suites = pytester.path / "suites"
    suites.mkdir()
    text = (ROOT / "suites" / "adult.yaml").read_text().replace("../examples",
                                                                 str(ROOT / "examples"))
    if section is not None:
        kept, skipping = [], False
        for line in text.splitlines():
            if line.startswith("  ") and not line.startswith("   ") and line.strip():
                skipping = line.startswith("  robustness:")
            if not skipping:
                kept.append(line)
        text = "\n".join(kept) + "\n" + section
    (suites / "adult.yaml").write_text(text)


def test_the_design_example_end_to_end(pytester: pytest.Pytester) -> None:
    adult_project(pytester, DESIGN_SECTION)
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "-v", "-m", "robustness")
    result.stdout.fnmatch_lines([
        "suites/adult.yaml::robustness::gaussian_noise FAILED*",
        "suites/adult.yaml::robustness::missing_values PASSED*",
        "suites/adult.yaml::robustness::category_swap PASSED*",
        "suites/adult.yaml::robustness::invariant_to::race FAILED*",
        "suites/adult.yaml::robustness::monotonic::education-num FAILED*",
        "*gaussian_noise flip rate 0.0* is above max_flip_rate 0.05*",
        "*threshold: max_flip_rate 0.05, max_regression.roc_auc 0.02*",
        "*interval: [[]open, 0.0896] at 0.95 one-sided (wilson)*",
        "*P(>50K) is not increasing in education-num: at data row*",
        "*3 failed, 2 passed, * deselected*",
    ])
    assert "Traceback" not in result.stdout.str()
    # -m selects a part of the gate: the run is partial, and says so
    assert result.outlines[-1].startswith("evalgate: BLOCK (3 of 41 checks failed; partial run: "
                                          "36 of 41 checks did not run)")
    assert not (pytester.path / ".hypothesis").exists()
    checks = {c["id"]: c for c in read_verdict(pytester.path)["suites"][0]["checks"]}
    noise = checks["adult-income::robustness::gaussian_noise"]
    assert noise["family"] == "robustness" and noise["metric"] == "flip_rate"
    assert noise["details"]["champion_flip_rate"] < noise["candidate"]
    assert noise["champion"] is None and noise["ci"] == [None, pytest.approx(0.0896, abs=1e-4)]
    assert noise["details"]["metrics"]["roc_auc"]["clean"] == pytest.approx(0.927, abs=1e-3)
    missing = checks["adult-income::robustness::missing_values"]
    assert "the champion cannot predict these rows" in missing["message"]  # LR without imputer
    mono = checks["adult-income::robustness::monotonic::education-num"]
    ce = mono["details"]["counterexample"]
    assert ce["after"] - ce["before"] == 1 and ce["score_after"] < ce["score_before"]
    assert mono["details"]["champion_violation_rate"] == 0  # the logistic champion is monotonic
    race = checks["adult-income::robustness::invariant_to::race"]
    assert race["details"]["values_tried"] == 5 and race["line"] is not None


def test_the_shipped_suite_runs_the_family_and_passes_it(pytester: pytest.Pytester) -> None:
    adult_project(pytester)
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "-m", "robustness", "-v")
    result.stdout.fnmatch_lines(["suites/adult.yaml::robustness::gaussian_noise PASSED*",
                                 "suites/adult.yaml::robustness::invariant_to::race PASSED*",
                                 "*5 passed, 36 deselected*"])
    # every robustness check passed, but one family is not the gate: the run is partial
    assert result.ret == 1, result.stdout.str()
    assert result.outlines[-1].startswith("evalgate: BLOCK (partial run: 36 of 41 checks")
    checks = read_verdict(pytester.path)["suites"][0]["checks"]
    assert [c["id"].split("::", 2)[-1] for c in checks] == [
        "gaussian_noise", "missing_values", "category_swap", "rounding", "invariant_to::race"]
    by_name = {c["id"].split("::", 2)[-1]: c for c in checks}
    race = by_name["invariant_to::race"]
    assert race["threshold"] == {"max_flip_rate_increase": 0.02}
    assert race["message"].startswith("counterfactual race flip rate 0.08")
    assert race["champion"] < race["candidate"] and race["ci"][0] >= -0.02
    missing = by_name["missing_values"]  # the logistic champion cannot take NaN
    assert missing["champion"] is None and "cannot predict these rows" in missing["message"]
    assert all(c["details"]["metrics"]["roc_auc"]["passed"] for c in checks[:4])
