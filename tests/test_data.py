"""Datasets: reading CSV / CSV.gz / Parquet, checking them against the suite, encoding targets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalgate.data import Dataset, encode_target, load_dataset, read_table
from evalgate.errors import DataError
from evalgate.spec import DataSpec
from tests import modelzoo as mz

FORMATS = [".csv", ".csv.gz", ".parquet"]


def spec(path: Path, target: str = "income", *, positive_label=None,
         sensitive: tuple[str, ...] = (), features: tuple[str, ...] | None = None) -> DataSpec:
    return DataSpec(path=path, target=target, positive_label=positive_label,
                    sensitive=sensitive, features=features, line=1)


def write(frame: pd.DataFrame, path: Path) -> Path:
    if path.name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)  # pandas infers gzip from .csv.gz
    return path


def dataset(tmp_path: Path, frame: pd.DataFrame, target: str) -> Dataset:
    return load_dataset(spec(write(frame, tmp_path / "data.csv"), target))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return mz.make_frame(n=60)


@pytest.fixture(scope="module")
def files(frame, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("data")
    return {ext: write(frame, folder / f"adult{ext}") for ext in FORMATS}


# =========================================================================== reading


@pytest.mark.parametrize("ext", FORMATS)
def test_every_format_reads_the_same_frame(frame, files, ext):
    pd.testing.assert_frame_equal(read_table(files[ext]), frame)


@pytest.mark.parametrize("ext", FORMATS)
def test_load_dataset_fingerprints_the_file_bytes(frame, files, ext):
    path = files[ext]

    data = load_dataset(spec(path, "income", sensitive=("sex",)))

    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert data.rows == len(frame) == len(data.frame)
    assert data.path == path
    assert data.target == "income"
    assert data.sensitive == ("sex",)
    pd.testing.assert_frame_equal(data.frame, frame)


def test_compressed_and_plain_files_have_different_fingerprints(files):
    digests = {load_dataset(spec(p)).sha256 for p in files.values()}
    assert len(digests) == len(files)


def test_features_default_to_every_column_but_the_target(files, frame):
    data = load_dataset(spec(files[".csv"], "price"))
    assert data.features == tuple(c for c in frame.columns if c != "price")


def test_listed_features_are_kept_in_the_suite_order(files):
    data = load_dataset(spec(files[".csv"], features=("sex", "hours-per-week")))
    assert data.features == ("sex", "hours-per-week")


# =========================================================================== columns


@pytest.mark.parametrize("kind, kwargs, wrong, close", [
    ("target", {"target": "incme"}, "incme", "income"),
    ("feature", {"features": ("age", "hours_per_week")}, "hours_per_week", "hours-per-week"),
    ("sensitive", {"sensitive": ("sexx",)}, "sexx", "sex"),
])
def test_missing_column_suggests_a_close_name_and_lists_columns(files, frame, kind, kwargs,
                                                                 wrong, close):
    args = {"target": "income", **kwargs}
    with pytest.raises(DataError) as err:
        load_dataset(spec(files[".csv"], **args))

    message = str(err.value)
    assert f"{kind} column {wrong!r} not found (did you mean {close!r}?)" in message
    assert f"the file has columns: {', '.join(frame.columns)}" in message
    assert err.value.path == files[".csv"]


def test_missing_column_without_a_close_name_makes_no_suggestion(files):
    with pytest.raises(DataError) as err:
        load_dataset(spec(files[".csv"], "zzzzzz"))
    assert "did you mean" not in str(err.value)
    assert "target column 'zzzzzz' not found" in str(err.value)


# =========================================================================== broken files


@pytest.mark.parametrize("ext", FORMATS)
def test_header_only_dataset_has_no_rows(frame, tmp_path, ext):
    path = write(frame.head(0), tmp_path / f"empty{ext}")
    with pytest.raises(DataError, match="the dataset has no rows"):
        load_dataset(spec(path))


@pytest.mark.parametrize("ext, phrase", [
    (".csv", "the file is empty"),
    (".csv.gz", "the file is empty"),
    (".parquet", "cannot read the file"),
])
def test_zero_byte_file(tmp_path, ext, phrase):
    path = tmp_path / f"zero{ext}"
    path.write_bytes(b"")
    with pytest.raises(DataError) as err:
        load_dataset(spec(path))
    assert str(err.value).startswith(f"{path}: {phrase}")


def test_csv_gz_that_is_not_gzip(tmp_path):
    path = tmp_path / "plain.csv.gz"
    path.write_text("age,income\n30,>50K\n")
    with pytest.raises(DataError, match=r"cannot read the file: BadGzipFile"):
        read_table(path)


def test_parquet_that_is_not_parquet(tmp_path):
    path = tmp_path / "plain.parquet"
    path.write_text("age,income\n30,>50K\n")
    with pytest.raises(DataError, match=r"cannot read the file: ArrowInvalid"):
        read_table(path)


@pytest.mark.parametrize("name", ["nope.csv", "nope.csv.gz", "nope.parquet"])
def test_missing_file(tmp_path, name):
    with pytest.raises(DataError) as err:
        read_table(tmp_path / name)
    assert str(err.value) == f"{tmp_path / name}: file not found"


def test_unsupported_extension(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(DataError, match=r"unsupported format; use \.csv, \.csv\.gz or \.parquet"):
        read_table(path)


@pytest.mark.parametrize("target", ["income", "price"])
def test_missing_target_values_give_the_count_and_first_row(frame, tmp_path, target):
    holes = frame.copy()
    holes.loc[[3, 7, 20], target] = None
    path = write(holes, tmp_path / "holes.csv")

    with pytest.raises(DataError) as err:
        load_dataset(spec(path, target))

    assert (f"target column {target!r} is missing in 3 of {len(frame)} rows "
            f"(first at data row 4)") in str(err.value)


# =========================================================================== encode_target


def test_binary_string_labels_with_a_positive_label(tmp_path, frame):
    data = dataset(tmp_path, frame, "income")

    target = encode_target(data, "binary", ">50K")

    assert target.classes == ("<=50K", ">50K")
    assert target.y.tolist() == (frame["income"] == ">50K").astype(int).tolist()


def test_binary_positive_label_may_sort_first(tmp_path, frame):
    data = dataset(tmp_path, frame, "income")

    target = encode_target(data, "binary", "<=50K")

    assert target.classes == (">50K", "<=50K")
    assert target.y.tolist() == (frame["income"] == "<=50K").astype(int).tolist()


def test_binary_string_labels_need_a_positive_label(tmp_path, frame):
    data = dataset(tmp_path, frame, "income")
    with pytest.raises(DataError, match=r"set data.positive_label .*'<=50K', '>50K'"):
        encode_target(data, "binary", None)


@pytest.mark.parametrize("positive", [None, 1, "1"], ids=["default", "int", "str"])
def test_binary_zero_one_defaults_to_one(tmp_path, frame, positive):
    data = dataset(tmp_path, frame, "label")

    target = encode_target(data, "binary", positive)

    assert target.classes == (0, 1)
    assert target.y.tolist() == frame["label"].tolist()


def test_binary_zero_one_with_zero_as_positive(tmp_path, frame):
    data = dataset(tmp_path, frame, "label")

    target = encode_target(data, "binary", 0)

    assert target.classes == (1, 0)
    assert target.y.tolist() == (1 - frame["label"]).tolist()


def test_binary_booleans_default_to_true(tmp_path, frame):
    data = dataset(tmp_path, frame.assign(label=frame["label"] == 1), "label")

    target = encode_target(data, "binary", None)

    assert target.classes == (False, True)
    assert target.y.tolist() == frame["label"].tolist()


def test_binary_positive_label_absent_lists_the_values(tmp_path, frame):
    data = dataset(tmp_path, frame, "income")
    with pytest.raises(DataError) as err:
        encode_target(data, "binary", ">50k")
    assert ("positive_label '>50k' does not occur in the target 'income'; "
            "its values: '<=50K', '>50K'") in str(err.value)


def test_binary_with_three_values_suggests_multiclass(tmp_path, frame):
    data = dataset(tmp_path, frame, "grade")
    with pytest.raises(DataError) as err:
        encode_target(data, "binary", "A")
    assert "has 3 distinct values ('A', 'B', 'C'); use task: multiclass" in str(err.value)


def test_binary_with_three_int_values_shows_plain_values(tmp_path, frame):
    data = dataset(tmp_path, frame.assign(label=frame.index % 3), "label")
    with pytest.raises(DataError) as err:
        encode_target(data, "binary", 1)
    assert "has 3 distinct values (0, 1, 2)" in str(err.value)


def test_multiclass_codes_follow_sorted_classes(tmp_path):
    frame = pd.DataFrame({"x": range(6), "grade": ["C", "A", "B", "C", "B", "A"]})
    data = dataset(tmp_path, frame, "grade")

    target = encode_target(data, "multiclass")

    assert target.classes == ("A", "B", "C")
    assert target.y.dtype == np.int64
    assert target.y.tolist() == [2, 0, 1, 2, 1, 0]


def test_multiclass_integer_classes_sort_numerically(tmp_path):
    frame = pd.DataFrame({"x": range(5), "stars": [10, 2, 9, 2, 10]})
    data = dataset(tmp_path, frame, "stars")

    target = encode_target(data, "multiclass")

    assert target.classes == (2, 9, 10)
    assert target.y.tolist() == [2, 0, 1, 0, 2]


def test_regression_target_becomes_float64(tmp_path, frame):
    data = dataset(tmp_path, frame.assign(price=frame["price"].round().astype(int)), "price")

    target = encode_target(data, "regression")

    assert target.classes is None
    assert target.y.dtype == np.float64
    np.testing.assert_array_equal(target.y, frame["price"].round())


def test_regression_refuses_a_text_target(tmp_path, frame):
    data = dataset(tmp_path, frame, "income")
    with pytest.raises(DataError, match="the target 'income' must be numeric for a regression "
                                        "suite"):
        encode_target(data, "regression")


def test_regression_refuses_infinite_targets(tmp_path, frame):
    data = dataset(tmp_path, frame.assign(price=np.where(frame.index == 5, np.inf, 1.0)),
                   "price")
    with pytest.raises(DataError, match="holds infinite values"):
        encode_target(data, "regression")
