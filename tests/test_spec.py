"""Suite files (DESIGN.md §2): broken suites are refused with file, line, key and a useful
message; valid suites load into the expected objects; loading never evaluates code.

Every broken suite below is complete and correct but for one mistake, and sits next to a
real CSV file, so the error can only come from that mistake. The line the error must name is
marked in the YAML text with a trailing ``# <-`` comment.
"""

from __future__ import annotations

import hashlib
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from evalgate.errors import SpecError
from evalgate.families import load_suite
from evalgate.spec import Threshold, find_suites

REPO = Path(__file__).resolve().parents[1]
ADULT = REPO / "suites" / "adult.yaml"

MARK = "# <-"
CSV = "age,sex,income\n39,Male,>50K\n50,Female,<=50K\n38,Male,<=50K\n53,Female,>50K\n"


def marked_line(text: str) -> int:
    """The 1-based line carrying the ``# <-`` marker (exactly one must)."""
    lines = [i for i, line in enumerate(text.splitlines(), start=1) if MARK in line]
    assert len(lines) == 1, f"expected one {MARK!r} marker, found {len(lines)}"
    return lines[0]


def write_suite(folder: Path, text: str, name: str = "suite.yaml") -> Path:
    """Write ``text`` (dedented) as a suite file next to a small real data file."""
    (folder / "data.csv").write_text(CSV)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


# --------------------------------------------------------------------------- broken suites


@dataclass(frozen=True)
class Broken:
    id: str
    yaml: str
    key: str | None
    #: the line the error must name: "marked" (the ``# <-`` line), an int, or None
    line: int | str | None
    says: tuple[str, ...]


BROKEN = [
    Broken("top-level key typo", """\
        task: binary
        data:
          path: data.csv
          target: income
        chekcs:  # <-
          performance:
            accuracy: {min: 0.8}
        """, "chekcs", "marked", ("unknown key", "did you mean 'checks'?", "valid keys:")),
    Broken("data key typo", """\
        task: binary
        data:
          path: data.csv
          targt: income  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "targt", "marked", ("unknown key in data", "did you mean 'target'?")),
    Broken("threshold key typo", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            roc_auc:
              min: 0.8
              max_regresion: 0.01  # <-
        """, "max_regresion", "marked",
        ("unknown key in the roc_auc check", "did you mean 'max_regression'?",
         "min, max, max_regression, min_improvement, blocking")),
    Broken("unknown metric", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            roc_acu: {min: 0.8}  # <-
        """, "roc_acu", "marked",
        ("unknown metric 'roc_acu'", "did you mean 'roc_auc'?", "valid binary metrics:")),
    Broken("metric not defined for the task", """\
        task: multiclass
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy: {min: 0.5}
            f1: {min: 0.5}  # <-
        """, "f1", "marked",
        ("'f1' is not defined for task multiclass", "valid multiclass metrics:", "f1_macro")),
    Broken("confidence as a string", """\
        task: binary
        data:
          path: data.csv
          target: income
        confidence: "0.95"  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "confidence", "marked", ("expected a number", "the string '0.95'")),
    Broken("seed as a float", """\
        task: binary
        data:
          path: data.csv
          target: income
        seed: 1.5  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "seed", "marked", ("expected a whole number", "1.5")),
    Broken("seed negative", """\
        task: binary
        data:
          path: data.csv
          target: income
        seed: -1  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "seed", "marked", ("must be at least 0", "-1")),
    Broken("threshold as a string", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy:
              min: "0.8"  # <-
        """, "min", "marked", ("expected a number", "the string '0.8'")),
    Broken("threshold as a bool", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy:
              min: true  # <-
        """, "min", "marked", ("expected a number", "a boolean (true)")),
    Broken("blocking as a string", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy:
              min: 0.8
              blocking: "yes"  # <-
        """, "blocking", "marked", ("expected true or false", "the string 'yes'")),
    Broken("missing task", """\
        suite: no-task  # <- a missing key is reported where its mapping starts
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "task", "marked", ("missing required key in the suite",)),
    Broken("unknown task", """\
        task: binray  # <-
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "task", "marked",
        ("unknown task 'binray'", "did you mean 'binary'?",
         "valid tasks: binary, multiclass, regression")),
    Broken("missing data", """\
        task: binary  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "data", "marked", ("missing required key in the suite",)),
    Broken("missing data.target", """\
        task: binary
        data:
          path: data.csv  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "target", "marked", ("missing required key in data",)),
    Broken("missing data.path", """\
        task: binary
        data:
          target: income  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "path", "marked", ("missing required key in data",)),
    Broken("absent data file", """\
        task: binary
        data:
          path: missing.csv  # <-
          target: income
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "path", "marked", ("data file 'missing.csv' not found", "missing.csv")),
    Broken("unsupported data file suffix", """\
        task: binary
        data:
          path: data.txt  # <-
          target: income
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "path", "marked", ("unsupported data file 'data.txt'", ".csv, .csv.gz, .parquet")),
    Broken("min above max", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy:
              min: 0.9  # <-
              max: 0.8
        """, "min", "marked", ("min (0.9) is above max (0.8)", "no value can pass")),
    Broken("min impossible for the metric", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            roc_auc:
              min: 1.5  # <-
        """, "min", "marked", ("impossible threshold 1.5 for roc_auc", "[0, 1]")),
    Broken("max impossible for the metric", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            log_loss:
              max: -0.1  # <-
        """, "max", "marked", ("impossible threshold -0.1 for log_loss", "[0, inf]")),
    Broken("negative max_regression", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy:
              max_regression: -0.01  # <-
        """, "max_regression", "marked", ("must be zero or more", "-0.01")),
    Broken("max_regression beyond the metric's range", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy:
              max_regression: 1.5  # <-
        """, "max_regression", "marked", ("1.5 exceeds the whole range of accuracy",)),
    Broken("confidence 0.5", """\
        task: binary
        data:
          path: data.csv
          target: income
        confidence: 0.5  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "confidence", "marked", ("strictly between 0.5 and 1", "got 0.5")),
    Broken("confidence 1.0", """\
        task: binary
        data:
          path: data.csv
          target: income
        confidence: 1.0  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "confidence", "marked", ("strictly between 0.5 and 1", "got 1.0")),
    Broken("confidence 0.3", """\
        task: binary
        data:
          path: data.csv
          target: income
        confidence: 0.3  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "confidence", "marked", ("strictly between 0.5 and 1", "got 0.3")),
    Broken("confidence not finite", """\
        task: binary
        data:
          path: data.csv
          target: income
        confidence: .nan  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "confidence", "marked", ("expected a finite number",)),
    Broken("n_resamples too few", """\
        task: binary
        data:
          path: data.csv
          target: income
        n_resamples: 10  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "n_resamples", "marked", ("must be at least 100", "got 10")),
    # 100 replicates cannot show a 99.999% bound: it is the most extreme replicate, a ~99%
    # bound labelled 99.999%, and a margin between the two passed
    Broken("n_resamples too few for the confidence", """\
        task: binary
        data:
          path: data.csv
          target: income
        confidence: 0.999
        n_resamples: 1000  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "n_resamples", "marked", (
            "n_resamples 1000 at confidence 0.999 leaves 1 replicate beyond the bound",
            "at confidence 0.999 n_resamples must be at least 5000")),
    Broken("default n_resamples too few for the confidence", """\
        task: binary
        data:
          path: data.csv
          target: income
        confidence: 0.9999  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "confidence", "marked", (
            "n_resamples 2000 (the default) at confidence 0.9999",
            "at least 50000")),
    Broken("confidence beyond what n_resamples can reach", """\
        task: binary
        data:
          path: data.csv
          target: income
        confidence: 0.99999
        n_resamples: 100  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "n_resamples", "marked", (
            "at least 500000, above the maximum 100000",
            "confidence at most 0.99995")),
    # YAML 1.1 read 1:30 as the base-60 number 90, a threshold that passed everything
    Broken("base-60 threshold", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            log_loss: {max_regression: 1:30}  # <-
        """, "max_regression", "marked", ("expected a number", "'1:30'")),
    # YAML 1.1 read no as false: blocking must be written true or false
    Broken("blocking: no", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy:
              min: 0.8
              blocking: no  # <-
        """, "blocking", "marked", ("expected true or false", "'no'", "write true or false")),
    Broken("empty performance mapping", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance: {}  # <-
        """, "performance", "marked", ("no metrics",)),
    Broken("empty checks mapping", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks: {}  # <-
        """, "checks", "marked", ("no checks", "declare at least one family")),
    Broken("threshold with no bounds", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy: {}  # <-
        """, "accuracy", "marked",
        ("no threshold", "min, max, max_regression, min_improvement")),
    Broken("threshold with only blocking", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy: {blocking: false}  # <-
        """, "accuracy", "marked", ("no threshold",)),
    Broken("duplicate key", """\
        task: binary
        data:
          path: data.csv
          target: income
        seed: 0
        seed: 1  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "seed", "marked", ("duplicate key", "first given on line 5")),
    Broken("duplicate metric", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy: {min: 0.8}
            accuracy: {min: 0.7}  # <-
        """, "accuracy", "marked", ("duplicate key", "first given on line 7")),
    Broken("YAML syntax error", """\
        task: binary
        data:
          path: data.csv
          target: income
        seed: 0: 1  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, None, "marked", ("invalid YAML", "mapping values are not allowed here")),
    Broken("two YAML documents", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy: {min: 0.8}
        ---  # <-
        task: binary
        """, None, "marked", ("invalid YAML", "expected a single document")),
    Broken("empty file", "", None, None, ("the suite file is empty",)),
    Broken("only comments", "# nothing here yet\n", None, None, ("the suite file is empty",)),
    Broken("top-level list", """\
        - task: binary
        - checks: {}
        """, "suite file", 1, ("expected a mapping, got a list",)),
    Broken("top-level scalar", "binary\n", "suite file", 1,
           ("expected a mapping, got the string 'binary'",)),
    Broken("data as a list", """\
        task: binary
        data: [data.csv, income]  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "data", "marked", ("expected a mapping, got a list",)),
    Broken("positive_label on a regression suite", """\
        task: regression
        data:
          path: data.csv
          target: age
          positive_label: 1  # <-
        checks:
          performance:
            mae: {max: 10}
        """, "positive_label", "marked", ("binary only", "this suite is regression")),
    Broken("positive_label on a multiclass suite", """\
        task: multiclass
        data:
          path: data.csv
          target: income
          positive_label: ">50K"  # <-
        checks:
          performance:
            accuracy: {min: 0.5}
        """, "positive_label", "marked", ("binary only", "this suite is multiclass")),
    Broken("positive_label as a list", """\
        task: binary
        data:
          path: data.csv
          target: income
          positive_label: [">50K"]  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "positive_label", "marked", ("expected a single label", "a list")),
    Broken("target listed in features", """\
        task: binary
        data:
          path: data.csv
          target: income
          features: [age, income]  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "features", "marked", ("the target 'income' cannot also be a feature",)),
    Broken("empty features", """\
        task: binary
        data:
          path: data.csv
          target: income
          features: []  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "features", "marked", ("the feature list is empty",)),
    Broken("target listed in sensitive", """\
        task: binary
        data:
          path: data.csv
          target: income
          sensitive: [sex, income]  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "sensitive", "marked", ("the target 'income' cannot be a sensitive column",)),
    Broken("column listed twice", """\
        task: binary
        data:
          path: data.csv
          target: income
          sensitive: [sex, sex]  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "sensitive", "marked", ("column 'sex' is listed twice",)),
    Broken("unknown family", """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          perfromance:  # <-
            accuracy: {min: 0.8}
        """, "perfromance", "marked",
        ("unknown key in checks", "did you mean 'performance'?",
         "performance, robustness, bias, latency, stress")),
    Broken("suite name containing ::", """\
        suite: adult::income  # <-
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "suite", "marked", ("may not contain '::'",)),
    Broken("empty suite name", """\
        suite: "  "  # <-
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "suite", "marked", ("expected a non-empty string",)),
    Broken("champion not a string", """\
        task: binary
        data:
          path: data.csv
          target: income
        champion: 3  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "champion", "marked", ("expected a non-empty string", "int 3")),
]


@pytest.fixture
def broken_suite(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Broken]:
    case: Broken = request.param
    (tmp_path / "data.txt").write_text(CSV)  # the unsupported-suffix case names a real file
    return write_suite(tmp_path, case.yaml), case


@pytest.mark.parametrize("broken_suite", BROKEN, ids=[c.id for c in BROKEN], indirect=True)
def test_broken_suite_is_refused_with_file_line_key_and_message(
        broken_suite: tuple[Path, Broken]) -> None:
    path, case = broken_suite
    expected_line = marked_line(path.read_text()) if case.line == "marked" else case.line

    with pytest.raises(SpecError) as info:
        load_suite(path)

    err = info.value
    assert (err.path, err.line, err.key) == (path, expected_line, case.key)
    for fragment in case.says:
        assert fragment in str(err)


@pytest.mark.parametrize(("confidence", "n_resamples"), [
    (0.95, 100), (0.99, 500), (0.999, 5000), (0.9975, None), (0.99995, 100_000)])
def test_n_resamples_with_five_replicates_beyond_the_bound_is_enough(
        tmp_path: Path, confidence: float, n_resamples: int | None) -> None:
    resamples = f"n_resamples: {n_resamples}\n" if n_resamples else ""
    path = write_suite(tmp_path, "task: binary\ndata:\n  path: data.csv\n  target: income\n"
                       f"confidence: {confidence}\n{resamples}"
                       "checks:\n  performance:\n    accuracy: {min: 0.8}\n")
    suite = load_suite(path)
    assert (suite.confidence, suite.n_resamples) == (confidence, n_resamples or 2000)


def test_error_text_reads_file_line_key_problem(tmp_path: Path) -> None:
    path = write_suite(tmp_path, """\
        task: binary
        data:
          path: data.csv
          target: income
        seed: -3
        checks:
          performance:
            accuracy: {min: 0.8}
        """)
    with pytest.raises(SpecError) as info:
        load_suite(path)
    assert str(info.value) == f"{path}:5: seed: must be at least 0, got -3"


def test_missing_suite_file_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(SpecError, match="cannot read the suite file") as info:
        load_suite(path)
    assert (info.value.path, info.value.line) == (path, None)


def test_non_utf8_suite_file_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("suite: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(SpecError, match="not UTF-8"):
        load_suite(path)


def test_unhashable_key_is_a_spec_error(tmp_path: Path) -> None:
    path = write_suite(tmp_path, """\
        task: binary
        ? [a, b]
        : 1
        """)
    with pytest.raises(SpecError, match="a key must be a plain value") as info:
        load_suite(path)
    assert info.value.line == 2


# --------------------------------------------------------------------------- known bugs


@pytest.mark.parametrize("text, key", [
    ("""\
        # an adult suite
        task: binary
        data:  # <-
        checks:
          performance:
            accuracy: {min: 0.8}
        """, "data"),
    ("""\
        # an adult suite
        task: binary
        data:
          path: data.csv
          target: income
        checks:  # <-
        """, "checks"),
], ids=["data", "checks"])
def test_empty_required_key_is_reported_on_its_own_line(
        tmp_path: Path, text: str, key: str) -> None:
    path = write_suite(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_suite(path)
    assert (info.value.key, info.value.line) == (key, marked_line(path.read_text()))


def test_top_level_list_is_reported_where_it_starts(tmp_path: Path) -> None:
    path = write_suite(tmp_path, """\
        # a suite must be a mapping

        - task: binary  # <-
        """)
    with pytest.raises(SpecError) as info:
        load_suite(path)
    assert info.value.line == marked_line(path.read_text())


def test_merge_key_value_can_be_overridden(tmp_path: Path) -> None:
    path = write_suite(tmp_path, """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy: &strict {min: 0.8, max_regression: 0.01}
            balanced_accuracy:
              <<: *strict
              min: 0.7
        """)
    suite = load_suite(path)
    assert suite.families["performance"][1].threshold == Threshold(min=0.7, max_regression=0.01)


def test_threshold_in_exponent_notation_is_a_number(tmp_path: Path) -> None:
    path = write_suite(tmp_path, """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy: {max_regression: 5e-3}
        """)
    assert load_suite(path).families["performance"][0].threshold.max_regression == 0.005


@pytest.mark.parametrize(("text", "value"), [
    # YAML 1.2 core: true/false (three spellings each) are the only booleans
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False),
    ("yes", "yes"), ("No", "No"), ("on", "on"), ("OFF", "OFF"), ("y", "y"),
    # no base 60, no YAML 1.1 octal or binary; 0o and 0x as 1.2 writes them
    ("1:30", "1:30"), ("1:30.5", "1:30.5"), ("0777", 777), ("0o17", 15), ("0x1F", 31),
    ("0b101", "0b101"), ("-12", -12), ("+3", 3), ("10000", 10000), ("10_000", 10000),
    ("0.05", 0.05), (".5", 0.5), ("5e-3", 0.005), ("1E3", 1000.0), ("-1.5e+2", -150.0),
    ("2.", 2.0), (".inf", float("inf")), ("-.Inf", float("-inf")),
    ("null", None), ("~", None), ("NULL", None), ("", None),
    # no timestamps: a date is the text written
    ("2024-05-01", "2024-05-01"), ("=", "="),
])
def test_scalars_resolve_as_yaml_1_2_core(text: str, value: object) -> None:
    from evalgate.spec import load_yaml

    got = load_yaml(f"key: {text}\n", Path("s.yaml"))["key"]
    assert got == value and type(got) is type(value), (text, got)


@pytest.mark.parametrize("text", ["!!int 1:30", "!!int abc", "!!float x", "!!bool yes"])
def test_an_explicit_tag_that_does_not_fit_is_a_spec_error(text: str) -> None:
    from evalgate.spec import load_yaml

    with pytest.raises(SpecError, match="invalid YAML") as info:
        load_yaml(f"a: 1\nkey: {text}\n", Path("s.yaml"))
    assert info.value.line == 2


def test_positive_label_yes_is_the_label_yes(tmp_path: Path) -> None:
    """YAML 1.1 read ``positive_label: yes`` as True, a label the data never has."""
    path = write_suite(tmp_path, """\
        task: binary
        data:
          path: data.csv
          target: income
          positive_label: yes
        checks:
          performance:
            accuracy: {min: 0.8}
        """)
    assert load_suite(path).data.positive_label == "yes"


# --------------------------------------------------------------------------- valid suites


@pytest.fixture(scope="module")
def adult():
    return load_suite(ADULT)


def test_adult_suite_header(adult) -> None:
    assert (adult.name, adult.task, adult.confidence, adult.seed) == (
        "adult-income", "binary", 0.95, 0)
    assert adult.description.startswith("Income above 50K")


def test_adult_data_path_is_resolved_relative_to_the_suite_file(adult) -> None:
    assert adult.data.path == REPO / "examples" / "data" / "adult_test.csv.gz"
    assert adult.data.path.is_file()


def test_adult_data_spec(adult) -> None:
    assert (adult.data.target, adult.data.positive_label, adult.data.sensitive,
            adult.data.features) == ("income", ">50K", ("sex", "race"), None)


def test_adult_champion_is_kept_as_written(adult) -> None:
    assert adult.champion == "../examples/models/champion.onnx"
    assert adult.champion_line == 12
    assert (adult.base_dir / adult.champion).resolve() == (
        REPO / "examples" / "models" / "champion.onnx")


def test_adult_metrics_in_file_order(adult) -> None:
    assert [c.metric for c in adult.families["performance"]] == [
        "roc_auc", "average_precision", "accuracy", "balanced_accuracy", "f1", "log_loss",
        "brier_score"]


def test_adult_threshold(adult) -> None:
    roc_auc = adult.families["performance"][0]
    assert roc_auc.threshold == Threshold(min=0.85, max_regression=0.005)
    assert roc_auc.blocking is True
    assert roc_auc.line == 17


def test_adult_sha256_is_the_hash_of_the_file_bytes(adult) -> None:
    assert adult.sha256 == hashlib.sha256(ADULT.read_bytes()).hexdigest()


def test_adult_check_id(adult) -> None:
    assert adult.check_id("performance", "roc_auc") == "adult-income::performance::roc_auc"


MINIMAL = """\
    task: binary
    data:
      path: data.csv
      target: income
    checks:
      performance:
        accuracy: {min: 0.8}
    """


def test_defaults(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, MINIMAL, name="my-gate.yaml"))
    assert (suite.name, suite.confidence, suite.seed, suite.n_resamples) == (
        "my-gate", 0.95, 0, 2000)
    assert (suite.champion, suite.champion_line, suite.description) == (None, None, "")
    assert (suite.data.positive_label, suite.data.sensitive, suite.data.features) == (
        None, (), None)
    assert suite.families["performance"][0].blocking is True


def test_data_path_does_not_depend_on_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text(CSV)
    (tmp_path / "suites").mkdir()
    path = tmp_path / "suites" / "gate.yaml"
    path.write_text(textwrap.dedent(MINIMAL).replace("data.csv", "../data/rows.csv"))
    monkeypatch.chdir(tmp_path / "data")
    assert load_suite(path).data.path == (tmp_path / "data" / "rows.csv").resolve()


def test_blocking_false_is_kept(tmp_path: Path) -> None:
    path = write_suite(tmp_path, MINIMAL.replace("{min: 0.8}", "{min: 0.8, blocking: false}"))
    assert load_suite(path).families["performance"][0].blocking is False


def test_integer_positive_label_is_kept_as_int(tmp_path: Path) -> None:
    path = write_suite(tmp_path, MINIMAL.replace("target: income", "target: income\n"
                                                 "      positive_label: 1"))
    label = load_suite(path).data.positive_label
    assert label == 1 and type(label) is int


def test_string_columns_are_read_as_one_element_lists(tmp_path: Path) -> None:
    path = write_suite(tmp_path, MINIMAL.replace("target: income", "target: income\n"
                                                 "      sensitive: sex\n"
                                                 "      features: age"))
    data = load_suite(path).data
    assert (data.sensitive, data.features) == (("sex",), ("age",))


def test_all_threshold_keys(tmp_path: Path) -> None:
    path = write_suite(tmp_path, MINIMAL.replace(
        "{min: 0.8}", "{min: 0.7, max: 0.99, max_regression: 0.01, min_improvement: 0}"))
    threshold = load_suite(path).families["performance"][0].threshold
    assert threshold == Threshold(min=0.7, max=0.99, max_regression=0.01, min_improvement=0.0)
    assert threshold.compares


def test_anchors_and_aliases(tmp_path: Path) -> None:
    path = write_suite(tmp_path, """\
        task: binary
        data:
          path: data.csv
          target: income
          sensitive: &groups [sex]
          features: *groups
        checks:
          performance:
            accuracy: &usual {min: 0.7, max_regression: 0.01}
            balanced_accuracy: *usual
        """)
    suite = load_suite(path)
    assert suite.data.features == ("sex",)
    assert [(c.metric, c.threshold) for c in suite.families["performance"]] == [
        ("accuracy", Threshold(min=0.7, max_regression=0.01)),
        ("balanced_accuracy", Threshold(min=0.7, max_regression=0.01)),
    ]


def test_merge_key_without_override(tmp_path: Path) -> None:
    path = write_suite(tmp_path, """\
        task: binary
        data:
          path: data.csv
          target: income
        checks:
          performance:
            accuracy: &usual {min: 0.7}
            balanced_accuracy:
              <<: *usual
              max_regression: 0.02
        """)
    assert load_suite(path).families["performance"][1].threshold == Threshold(
        min=0.7, max_regression=0.02)


def test_find_suites_in_a_folder_returns_yaml_files_sorted(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yml", "c.yaml", "notes.txt", "data.csv", "nested/d.yaml"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    assert find_suites(tmp_path) == [tmp_path / "a.yml", tmp_path / "b.yaml",
                                     tmp_path / "c.yaml", tmp_path / "nested" / "d.yaml"]


def test_find_suites_on_a_file_returns_it(tmp_path: Path) -> None:
    path = tmp_path / "gate.yaml"
    path.write_text("")
    assert find_suites(path) == [path]


def test_find_suites_follows_a_symlinked_folder(tmp_path: Path) -> None:
    """A monorepo links shared suites in (``suites/shared -> ../org``): they are part of the
    gate, as if copied there; a link back up (a cycle) is walked once."""
    org = tmp_path / "org"
    org.mkdir()
    (org / "strict.yaml").write_text("")
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "base.yaml").write_text("")
    (suites / "shared").symlink_to("../org", target_is_directory=True)
    (org / "loop").symlink_to("..", target_is_directory=True)  # org/loop -> tmp_path
    (suites / "self").symlink_to(".", target_is_directory=True)
    found = find_suites(suites)
    assert suites / "shared" / "strict.yaml" in found
    assert suites / "base.yaml" in found
    assert len({p.resolve() for p in found}) == len(found) == 2, found


def test_find_suites_keeps_a_dangling_suite_link_and_the_gate_refuses_it(
        tmp_path: Path) -> None:
    """A suite link whose target is missing (not in this checkout) is a suite of the gate
    that cannot be read — an error naming it, never left out."""
    (tmp_path / "ok.yaml").write_text("")
    dangling = tmp_path / "fairness.yaml"
    dangling.symlink_to(tmp_path / "gone" / "missing.yaml")
    assert find_suites(tmp_path) == [dangling, tmp_path / "ok.yaml"]
    with pytest.raises(SpecError, match=r"symbolic link to .*missing.yaml, which does not "
                                        r"exist") as info:
        load_suite(dangling)
    assert info.value.path == dangling


# --------------------------------------------------------------------------- safe loading


@pytest.mark.parametrize("tag", [
    "!!python/object/apply:os.system",
    "!!python/object/apply:subprocess.check_call",
], ids=["os.system", "subprocess"])
@pytest.mark.parametrize("where", ["whole document", "a value"])
def test_python_tags_are_refused_and_never_run(tmp_path: Path, tag: str, where: str) -> None:
    marker = tmp_path / "hacked"
    payload = (f'{tag} ["touch {marker}"]' if "os.system" in tag
               else f'{tag} [["touch", "{marker}"]]')
    text = payload + "\n" if where == "whole document" else MINIMAL.replace(
        "target: income", f"target: income\n      positive_label: {payload}")
    path = write_suite(tmp_path, text)

    with pytest.raises(SpecError, match="could not determine a constructor") as info:
        load_suite(path)

    assert info.value.line == (1 if where == "whole document" else 5)
    assert not marker.exists()


def test_a_family_this_installation_lacks_is_refused(tmp_path, monkeypatch) -> None:
    """A family this installation does not register is refused by name, never silently
    ignored."""
    import evalgate.families as families

    monkeypatch.setattr(families, "FAMILIES", ("performance",))
    (tmp_path / "data.csv").write_text("age,income\n30,>50K\n40,<=50K\n")
    path = tmp_path / "s.yaml"
    path.write_text("task: binary\ndata:\n  path: data.csv\n  target: income\n"
                    "checks:\n  performance:\n    accuracy: {min: 0.8}\n"
                    "  robustness:\n    max_flip_rate: 0.05\n")
    with pytest.raises(SpecError) as err:
        families.load_suite(path)
    assert (err.value.line, err.value.key) == (8, "robustness")
    assert "the robustness family is not available in this version of evalgate " \
           "(available: performance)" in str(err.value)


def test_every_independent_mistake_of_a_file_is_named(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    """One reading names each mistake that does not follow from another: a top-level typo,
    a bad level, a bad seed, and a mistake in each of two families — each with its line."""
    from evalgate.cli import main

    path = tmp_path / "suites" / "s.yaml"
    path.parent.mkdir()
    path.write_text(textwrap.dedent("""\
        task: binary
        descripton: a typo
        confidence: 1.5
        seed: -1
        data:
          path: ../data.csv
          target: income
        checks:
          performance:
            roc_auc: {min: 0.8, max_regresion: 0.01}
          bias:
            groups: [sex]
            metrics: [selection_rte]
            max_difference: 0.1
        """))
    (tmp_path / "data.csv").write_text(CSV)
    with pytest.raises(SpecError) as info:
        load_suite(path)
    found = [(e.line, e.key) for e in info.value.each()]
    assert found[:3] == [(2, "descripton"), (3, "confidence"), (4, "seed")]
    assert (10, "max_regresion") in found and any(11 <= line <= 14 for line, _ in found[4:])
    assert len(str(info.value).splitlines()) == len(found) >= 5
    monkey = pytest.MonkeyPatch()
    monkey.chdir(tmp_path)
    try:
        assert main(["validate", "suites/s.yaml"]) == 1
    finally:
        monkey.undo()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(found) and all(x.startswith("INVALID suites/s.yaml:") for x in lines)
    assert lines[0] == ("INVALID suites/s.yaml:2: descripton: unknown key in the suite "
                        "(did you mean 'description'?); valid keys: " + lines[0].split(
                            "valid keys: ")[1])
