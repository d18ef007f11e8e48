"""Corpus: datasets the gate must refuse rather than quietly judge (issue 11 §1 data shape,
DESIGN §6). The candidate is the shipped one; only the data file is hostile."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.failclosed.corpus import (
    CANDIDATE,
    CHAMPION,
    FifoWatch,
    adult,
    assert_blocked,
    gate,
    suite_yaml,
    write_csv,
    write_suite,
)


def _duplicate_header(path: Path, column: str) -> Path:
    """Adult rows plus a second column named ``column`` (the file's header names it twice);
    its values are the first's, shuffled."""
    frame = adult()
    frame["__dup__"] = np.random.default_rng(0).permutation(frame[column].to_numpy())
    write_csv(path, frame)
    text = path.read_text("utf-8")
    header, rest = text.split("\n", 1)
    path.write_text(header.replace("__dup__", column) + "\n" + rest, "utf-8")
    return path


def duplicate_target_column(tmp: Path) -> tuple[Path, str, tuple[str, ...]]:
    return _duplicate_header(tmp / "dup-target.csv", "income"), ">50K", ("dup-target.csv",
                                                                          "income")


def duplicate_feature_column(tmp: Path) -> tuple[Path, str, tuple[str, ...]]:
    return _duplicate_header(tmp / "dup-age.csv", "age"), ">50K", ("dup-age.csv", "age")


def empty_file(tmp: Path) -> tuple[Path, str, tuple[str, ...]]:
    path = tmp / "zero.csv"
    path.write_bytes(b"")
    return path, ">50K", ("zero.csv", "empty")


def header_only(tmp: Path) -> tuple[Path, str, tuple[str, ...]]:
    return write_csv(tmp / "header.csv", adult().head(0)), ">50K", ("header.csv", "no rows")


def target_with_missing_values(tmp: Path) -> tuple[Path, str, tuple[str, ...]]:
    frame = adult()
    frame.loc[frame.index[::7], "income"] = np.nan
    return write_csv(tmp / "nan-target.csv", frame), ">50K", ("nan-target.csv", "income")


def positive_label_absent(tmp: Path) -> tuple[Path, str, tuple[str, ...]]:
    return write_csv(tmp / "adult.csv"), ">60K", (">60K",)


def binary_target_with_three_values(tmp: Path) -> tuple[Path, str, tuple[str, ...]]:
    frame = adult()
    frame.loc[frame.index[::50], "income"] = "unknown"
    return write_csv(tmp / "three.csv", frame), ">50K", ("three.csv", "unknown")


def data_file_not_found(tmp: Path) -> tuple[Path, str, tuple[str, ...]]:
    return tmp / "nowhere.csv", ">50K", ("nowhere.csv", "not found")


def data_is_a_directory(tmp: Path) -> tuple[Path, str, tuple[str, ...]]:
    folder = tmp / "folder.csv"
    folder.mkdir(parents=True)
    return folder, ">50K", ("folder.csv",)


CASES: list[Callable[[Path], tuple[Path, str, tuple[str, ...]]]] = [
    duplicate_target_column,
    duplicate_feature_column,
    empty_file,
    header_only,
    target_with_missing_values,
    positive_label_absent,
    binary_target_with_three_values,
    data_file_not_found,
    data_is_a_directory,
]


@pytest.mark.parametrize("build", CASES, ids=[c.__name__ for c in CASES])
def test_hostile_data_blocks(pt: pytest.Pytester, build: Callable) -> None:
    (pt.path / "in").mkdir()
    data, positive, needles = build(pt.path / "in")
    write_suite(pt.path, suite_yaml(data=data, positive_label=positive, champion=CHAMPION))
    run = gate(pt, f"--evalgate={CANDIDATE}")
    assert_blocked(run, pt.path / "reports", *needles)


def test_missing_target_column(pt: pytest.Pytester) -> None:
    write_suite(pt.path, suite_yaml(data=write_csv(pt.path / "adult.csv"), target="incme"))
    run = gate(pt, f"--evalgate={CANDIDATE}")
    assert_blocked(run, pt.path / "reports", "incme", "income")


def test_data_path_is_a_fifo(pt: pytest.Pytester) -> None:
    """A FIFO as the data must be refused, not opened (it would wait forever for a writer)."""
    with FifoWatch(pt.path / "pipe.csv") as watch:
        write_suite(pt.path, suite_yaml(data=watch.path))
        run = gate(pt, f"--evalgate={CANDIDATE}")
    hang = ["the gate opened the FIFO (it hangs without a writer)"] if watch.opened else []
    assert_blocked(run, pt.path / "reports", "pipe.csv", problems=hang)
