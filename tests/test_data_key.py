"""``data.exclude`` and ``data.key`` (DESIGN §2): columns the models are never fed; a key names
each row once, checked on every engine, recorded in verdict.json."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import ADULT_TEST, CANDIDATE, suite_text
from evalgate.data import load_dataset
from evalgate.engine import Gate, evaluate_paths
from evalgate.errors import DataError, SpecError
from evalgate.families import load_suite


def _write(tmp_path: Path, frame: pd.DataFrame, data_extra: str, parts: int = 1,
           name: str = "eval") -> Path:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    size = -(-len(frame) // parts)
    for i in range(parts):
        frame.iloc[i * size:(i + 1) * size].to_parquet(folder / f"p{i}.parquet", index=False)
    text = suite_text(data=folder, champion=None).replace(
        "  sensitive: [sex, race]\n", f"  sensitive: [sex, race]\n{data_extra}")
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    frame = pd.read_csv(ADULT_TEST).head(3000)
    return frame.assign(id=[f"r{i:05d}" for i in range(len(frame))])


def test_the_key_and_excluded_columns_are_never_features(tmp_path: Path,
                                                         adult: pd.DataFrame) -> None:
    path = _write(tmp_path, adult, "  key: id\n  exclude: [fnlwgt]\n")
    suite = load_suite(path)
    data = load_dataset(suite.data)
    assert "id" not in data.features and "fnlwgt" not in data.features
    assert "age" in data.features and data.target not in data.features


@pytest.mark.parametrize(("extra", "message"), [
    ("  key: income\n", "the target 'income' cannot be the key"),
    ("  exclude: [income]\n", "the target 'income' cannot be excluded"),
    ("  key: age\n  features: [age, sex]\n", "'age' is the key and listed in features"),
    ("  exclude: [sex]\n  features: [age, sex]\n", "'sex' is excluded and listed in features"),
    ("  key: sex\n", "'sex' is the key and a sensitive column"),
])
def test_suite_errors(tmp_path: Path, adult: pd.DataFrame, extra: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_suite(_write(tmp_path, adult, extra))


def test_a_missing_key_column_is_named(tmp_path: Path, adult: pd.DataFrame) -> None:
    suite = load_suite(_write(tmp_path, adult, "  key: row_id\n"))
    with pytest.raises(DataError, match="key column 'row_id' not found"):
        load_dataset(suite.data)


def test_a_key_twice_or_missing_is_refused(tmp_path: Path, adult: pd.DataFrame) -> None:
    twice = adult.copy()
    twice.loc[2500, "id"] = "r00007"
    suite = load_suite(_write(tmp_path, twice, "  key: id\n", parts=2))
    with pytest.raises(DataError, match=r"holds 'r00007' twice \(data row 8 of p0.parquet and "
                                        r"data row 1001 of p1.parquet\)"):
        load_dataset(suite.data)
    gone = adult.copy()
    gone.loc[10, "id"] = None
    suite = load_suite(_write(tmp_path, gone, "  key: id\n", parts=2))
    with pytest.raises(DataError, match="key column 'id' is missing in 1 rows"):
        load_dataset(suite.data)


@pytest.mark.e2e
def test_the_verdict_records_the_key_and_dask_checks_it_across_partitions(
        tmp_path: Path, adult: pd.DataFrame) -> None:
    pytest.importorskip("distributed")
    from evalgate.config import EngineChoice
    from evalgate.engine.dask import DaskEngine
    from evalgate.verdict import build, now

    twice = adult.copy()
    twice.loc[2900, "id"] = "r00003"
    path = _write(tmp_path, twice, "  key: id\n", parts=3)
    engine = DaskEngine(EngineChoice("dask", None, 1))
    try:
        [outcome] = evaluate_paths(Gate(CANDIDATE, engine=engine), [path])
    finally:
        engine.close()
    assert outcome.error is not None and "holds 'r00003' twice" in outcome.error
    assert "p0.parquet" in outcome.error and "p2.parquet" in outcome.error
    ok = _write(tmp_path, adult, "  key: id\n", name="ok")
    outcomes = evaluate_paths(Gate(CANDIDATE), [ok])
    doc = json.loads(json.dumps(build(outcomes, candidate=CANDIDATE, seed=None,
                                      started_at=now(), duration_s=1.0)))
    assert doc["suites"][0]["dataset"]["key"] == "id"
    assert all(c["status"] != "error" for c in doc["suites"][0]["checks"])


def test_a_key_of_lists_is_refused(tmp_path: Path, adult: pd.DataFrame) -> None:
    odd = adult.assign(id=[[i % 7] for i in range(len(adult))])
    suite = load_suite(_write(tmp_path, odd, "  key: id\n"))
    with pytest.raises(DataError, match=r"holds a (list|ndarray) at data row 1; a key is one "
                                        r"value per row"):
        load_dataset(suite.data)


def test_a_header_only_file_in_a_glob_changes_no_dtype(tmp_path: Path,
                                                       adult: pd.DataFrame) -> None:
    """An empty CSV among the files (a header, no row) is left out of the concatenation: its
    columns, read as text, would turn every number into text."""
    folder = tmp_path / "csvs"
    folder.mkdir()
    adult.iloc[:1000].to_csv(folder / "a.csv", index=False)
    adult.iloc[:0].to_csv(folder / "b.csv", index=False)
    adult.iloc[1000:2000].to_csv(folder / "c.csv", index=False)
    text = suite_text(data=folder, champion=None)
    (tmp_path / "csv.yaml").write_text(text)
    data = load_dataset(load_suite(tmp_path / "csv.yaml").data)
    assert data.rows == 2000 and data.frame["age"].dtype.kind == "i"
    assert [f.rows for f in data.files] == [1000, 0, 1000]
