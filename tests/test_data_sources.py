"""``data.path`` as a glob or a folder of files: read in sorted path order, fingerprinted over
the files' bytes, each file listed in the verdict — and the same numbers as one file holding
the same rows. A stray or mismatched file is an error, never a silent extra (or missing)
part of the evaluation rows."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import ADULT_TEST, CANDIDATE, suite_text
from evalgate.data import load_dataset
from evalgate.engine import Gate, evaluate_paths
from evalgate.errors import DataError, SpecError
from evalgate.families import load_suite
from evalgate.verdict import build, now

ROWS = 3000


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_csv(ADULT_TEST).iloc[:ROWS]


def _split(frame: pd.DataFrame, folder: Path, parts: int, kind: str = "parquet") -> list[Path]:
    """``frame`` written as ``parts`` files whose sorted names follow the row order."""
    folder.mkdir(parents=True, exist_ok=True)
    edges = [round(i * len(frame) / parts) for i in range(parts + 1)]
    paths = []
    for i in range(parts):
        part = frame.iloc[edges[i]:edges[i + 1]]
        path = folder / f"part-{i:03d}.{kind}"
        if kind == "parquet":
            part.to_parquet(path, index=False)
        else:
            part.to_csv(path, index=False)
        paths.append(path)
    return paths


def _verdict(tmp: Path, data: str) -> dict[str, Any]:
    suite = tmp / "suite.yaml"
    suite.write_text(suite_text(data=data))
    outcomes = evaluate_paths(Gate(CANDIDATE), [suite])
    doc = build(outcomes, candidate=CANDIDATE, seed=None, started_at=now(), duration_s=1.0)
    out: dict[str, Any] = json.loads(json.dumps(doc))
    return out


def _checks(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k != "message"} for c in doc["suites"][0]["checks"]]


@pytest.mark.e2e
@pytest.mark.parametrize("parts", [1, 3, 8])
def test_a_glob_gives_the_numbers_of_one_file(tmp_path: Path, adult: pd.DataFrame,
                                              parts: int) -> None:
    adult.to_parquet(tmp_path / "whole.parquet", index=False)
    files = _split(adult, tmp_path / "eval", parts)
    one = _verdict(tmp_path, "whole.parquet")
    many = _verdict(tmp_path, "eval/*.parquet")
    assert _checks(many) == _checks(one)
    assert [c["message"] for c in many["suites"][0]["checks"]] == \
        [c["message"] for c in one["suites"][0]["checks"]]
    dataset = many["suites"][0]["dataset"]
    assert dataset["rows"] == ROWS and dataset["path"].endswith("eval/*.parquet")
    assert [f["rows"] for f in dataset["files"]] == [len(pd.read_parquet(f)) for f in files]
    assert [Path(f["path"]).name for f in dataset["files"]] == [f.name for f in files]
    whole = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    assert dataset["sha256"] == whole
    assert [f["sha256"] for f in dataset["files"]] == \
        [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    assert "files" not in one["suites"][0]["dataset"]  # one file: the verdict as before


def test_a_folder_reads_its_files_in_sorted_order_and_skips_writer_markers(
        tmp_path: Path, adult: pd.DataFrame) -> None:
    folder = tmp_path / "eval"
    files = _split(adult, folder, 3)
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-000.parquet.crc").write_bytes(b"crc")
    suite = tmp_path / "s.yaml"
    suite.write_text(suite_text(data="eval"))
    spec = load_suite(suite).data
    assert spec.sources == tuple(f.resolve() for f in files)
    data = load_dataset(spec)
    pd.testing.assert_frame_equal(data.frame, adult.reset_index(drop=True), check_dtype=False)
    assert [f.rows for f in data.files] == [1000, 1000, 1000]


def test_rows_follow_sorted_path_order_not_creation_order(tmp_path: Path,
                                                          adult: pd.DataFrame) -> None:
    folder = tmp_path / "eval"
    folder.mkdir()
    adult.iloc[1500:].to_parquet(folder / "b.parquet", index=False)  # written first
    adult.iloc[:1500].to_parquet(folder / "a.parquet", index=False)
    suite = tmp_path / "s.yaml"
    suite.write_text(suite_text(data="eval/*.parquet"))
    frame = load_dataset(load_suite(suite).data).frame
    pd.testing.assert_frame_equal(frame, adult.reset_index(drop=True), check_dtype=False)


def test_csv_globs_and_columns_in_another_order(tmp_path: Path, adult: pd.DataFrame) -> None:
    folder = tmp_path / "eval"
    _split(adult, folder, 2, kind="csv")
    second = pd.read_csv(folder / "part-001.csv")
    second[list(reversed(second.columns))].to_csv(folder / "part-001.csv", index=False)
    suite = tmp_path / "s.yaml"
    suite.write_text(suite_text(data="eval/*.csv"))
    frame = load_dataset(load_suite(suite).data).frame
    assert list(frame.columns) == list(adult.columns)
    pd.testing.assert_frame_equal(frame, adult.reset_index(drop=True), check_dtype=False)


def _problem(tmp: Path, data: str) -> str:
    suite = tmp / "s.yaml"
    suite.write_text(suite_text(data=data))
    with pytest.raises((SpecError, DataError)) as err:
        load_dataset(load_suite(suite).data)
    return str(err.value)


def test_a_glob_that_matches_nothing_names_the_pattern(tmp_path: Path) -> None:
    (tmp_path / "eval").mkdir()
    msg = _problem(tmp_path, "eval/*.parquet")
    assert "'eval/*.parquet' matches no data file" in msg
    assert re.search(r"s\.yaml:\d+: path: the glob", msg)  # where, in the suite


def test_a_glob_must_name_data_files(tmp_path: Path, adult: pd.DataFrame) -> None:
    _split(adult, tmp_path / "eval", 2)
    (tmp_path / "eval" / "notes.txt").write_text("not data")
    assert "must end in one of" in _problem(tmp_path, "eval/*")


def test_rows_in_a_format_not_read_are_refused_not_passed_over(tmp_path: Path,
                                                               adult: pd.DataFrame) -> None:
    """A folder of part-000.csv, part-001.csv.bz2 and part-002.csv.xz judged the first third
    of its rows and said nothing: a file of rows evalgate cannot read is an error naming it."""
    folder = tmp_path / "eval"
    _split(adult.iloc[:300], folder, 1, kind="csv")
    adult.iloc[300:600].to_csv(folder / "part-001.csv.bz2", index=False)
    (folder / "README.md").write_text("notes: not rows")  # not data: passed over
    msg = _problem(tmp_path, "eval")
    assert "'part-001.csv.bz2'" in msg and "does not read" in msg


def test_a_glob_passes_over_writers_hidden_and_temporary_folders(tmp_path: Path,
                                                                 adult: pd.DataFrame) -> None:
    """Spark leaves uncommitted part files in _temporary/: `eval/**/*.parquet` must not read
    them (their rows would be counted twice, or half-written)."""
    files = _split(adult, tmp_path / "eval" / "out", 2)
    _split(adult.iloc[:50], tmp_path / "eval" / "out" / "_temporary" / "0", 1)
    _split(adult.iloc[:50], tmp_path / "eval" / ".ipynb_checkpoints", 1)
    suite = tmp_path / "s.yaml"
    suite.write_text(suite_text(data="eval/**/*.parquet"))
    assert load_suite(suite).data.sources == tuple(f.resolve() for f in files)
    named = tmp_path / "t.yaml"  # named on purpose, below the glob's fixed part: read
    named.write_text(suite_text(data="eval/out/_temporary/*/*.parquet"))
    assert len(load_suite(named).data.sources) == 1


def test_mixed_formats_are_refused(tmp_path: Path, adult: pd.DataFrame) -> None:
    folder = tmp_path / "eval"
    _split(adult, folder, 2)
    adult.iloc[:10].to_csv(folder / "stray-export.csv", index=False)
    msg = _problem(tmp_path, "eval")
    assert "mixes file formats" in msg and "stray-export.csv" in msg


def test_nested_files_in_a_folder_are_refused_not_dropped(tmp_path: Path,
                                                          adult: pd.DataFrame) -> None:
    folder = tmp_path / "eval"
    _split(adult, folder, 2)
    _split(adult.iloc[:100], folder / "year=2024", 1)
    msg = _problem(tmp_path, "eval")
    assert "subfolders" in msg and "year=2024" in msg and "eval/**/*.parquet" in msg
    # ...and a glob that names them on purpose reads them
    suite = tmp_path / "s.yaml"
    suite.write_text(suite_text(data="eval/**/*.parquet"))
    assert load_dataset(load_suite(suite).data).rows == ROWS + 100


def test_a_glob_matching_a_folder_is_refused(tmp_path: Path, adult: pd.DataFrame) -> None:
    _split(adult, tmp_path / "eval" / "out.parquet", 2)  # Spark's layout
    msg = _problem(tmp_path, "eval/*.parquet")
    assert "matches the folder 'out.parquet'" in msg


def test_a_file_whose_columns_differ_is_named(tmp_path: Path, adult: pd.DataFrame) -> None:
    folder = tmp_path / "eval"
    files = _split(adult, folder, 3)
    pd.read_parquet(files[1]).drop(columns=["age"]).to_parquet(files[1], index=False)
    msg = _problem(tmp_path, "eval/*.parquet")
    assert "part-001.parquet" in msg and "lacks 'age'" in msg and "same columns" in msg


def test_a_missing_target_is_placed_in_its_file(tmp_path: Path, adult: pd.DataFrame) -> None:
    folder = tmp_path / "eval"
    files = _split(adult, folder, 3)
    part = pd.read_parquet(files[2])
    part.loc[part.index[6], "income"] = None
    part.to_parquet(files[2], index=False)
    msg = _problem(tmp_path, "eval/*.parquet")
    assert "part-002.parquet" in msg and "first at data row 7 of part-002.parquet" in msg


def test_changing_one_file_changes_the_fingerprint(tmp_path: Path, adult: pd.DataFrame) -> None:
    folder = tmp_path / "eval"
    files = _split(adult, folder, 3)
    suite = tmp_path / "s.yaml"
    suite.write_text(suite_text(data="eval/*.parquet"))
    before = load_dataset(load_suite(suite).data)
    part = pd.read_parquet(files[1])
    part.loc[part.index[0], "age"] += 1
    part.to_parquet(files[1], index=False)
    after = load_dataset(load_suite(suite).data)
    assert after.sha256 != before.sha256
    assert [a.sha256 == b.sha256 for a, b in zip(after.files, before.files, strict=True)] == \
        [True, False, True]


def test_data_too_large_for_memory_suggests_the_dask_engine(
        tmp_path: Path, adult: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused before a row is read, with the flag that runs it: not an out-of-memory kill."""
    from evalgate.data import memory

    _split(adult, tmp_path / "eval", 2)
    suite = tmp_path / "s.yaml"
    suite.write_text(suite_text(data="eval/*.parquet"))
    spec = load_suite(suite).data
    need = memory.estimated_bytes(spec.sources)
    assert need > 0
    monkeypatch.setattr(memory, "available_bytes", lambda: need - 1)
    read: list[Path] = []
    monkeypatch.setattr("evalgate.data.read.read_table", lambda p: read.append(p))
    with pytest.raises(DataError, match="--evalgate-engine dask") as err:
        load_dataset(spec)
    assert "more than the" in str(err.value) and "eval/*.parquet" in str(err.value)
    assert read == []  # nothing was read


def test_the_memory_estimate_is_low_not_high(tmp_path: Path, adult: pd.DataFrame) -> None:
    """A refusal must be right: the estimate stays below the frame pandas really builds."""
    from evalgate.data import memory

    files = _split(adult, tmp_path / "pq", 2) + _split(adult, tmp_path / "csv", 2, kind="csv")
    for kind in ("pq", "csv"):
        mine = [f for f in files if f.parent.name == kind]
        real = sum(int((pd.read_parquet(f) if kind == "pq" else pd.read_csv(f))
                       .memory_usage(deep=True).sum()) for f in mine)
        assert 0 < memory.estimated_bytes(mine) <= real
    gz = tmp_path / "a.csv.gz"
    adult.to_csv(gz, index=False)
    assert memory.estimated_bytes([gz]) <= int(adult.memory_usage(deep=True).sum())
    assert memory.available_bytes() is None or memory.available_bytes() > 0


@pytest.mark.e2e
def test_a_glob_dataset_is_promoted_only_while_its_files_are_those_judged(
        tmp_path: Path, adult: pd.DataFrame, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """promote re-checks a glob's files: the same list and bytes pass; a file added to the
    folder, or one changed, since the run is refused."""
    from conftest import CHAMPION
    from evalgate.cli import main

    files = _split(adult, tmp_path / "eval", 3)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "s.yaml").write_text(suite_text(data="../eval/*.parquet"))
    (tmp_path / "pyproject.toml").write_text("[tool.evalgate]\n")
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(CHAMPION), "--no-champion"]) == 0
    _split(adult.iloc[:50], tmp_path / "more", 1)[0].rename(tmp_path / "eval" / "part-999.parquet")
    assert main(["promote", str(CHAMPION), "--name", "adult"]) == 1
    err = capsys.readouterr().err
    assert "its files differ (now also" in err and "part-999.parquet" in err
    (tmp_path / "eval" / "part-999.parquet").unlink()
    pd.read_parquet(files[1]).iloc[:-1].to_parquet(files[1], index=False)
    assert main(["promote", str(CHAMPION), "--name", "adult"]) == 1
    assert "part-001.parquet" in capsys.readouterr().err
    assert main(["run", str(CHAMPION), "--no-champion"]) == 0  # re-run on the files as they are
    assert main(["promote", str(CHAMPION), "--name", "adult"]) == 0
