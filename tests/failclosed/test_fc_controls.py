"""Positive controls of the corpus: honest inputs still PROMOTE, so the corpus cannot be
satisfied by blocking everything."""

from __future__ import annotations

from pathlib import Path

import pytest
from onnx import TensorProto

from tests.failclosed.corpus import (
    CANDIDATE,
    CHAMPION,
    age_regressor,
    assert_promoted,
    candidate_variant,
    cli,
    gate,
    suite_yaml,
    variant_bytes,
    write_csv,
    write_suite,
)


def test_shipped_case_promotes_under_pytest(pt: pytest.Pytester) -> None:
    write_suite(pt.path, suite_yaml(data=write_csv(pt.path / "adult.csv"), champion=CHAMPION))
    run = gate(pt, f"--evalgate={CANDIDATE}")
    assert_promoted(run, pt.path / "reports")


def test_shipped_case_promotes_under_evalgate_run(project: Path) -> None:
    write_suite(project, suite_yaml(data=write_csv(project / "adult.csv"), champion=CHAMPION))
    run = cli("run", CANDIDATE)
    assert_promoted(run, project / "reports")


def test_filterwarnings_error_project_promotes_like_the_cli(pt: pytest.Pytester) -> None:
    """Model calls run under evalgate's own warnings policy, not the project's."""
    pt.makeini("[pytest]\nfilterwarnings =\n    error\n"
               # pytester's inner sessions re-register the imported plugin (an artefact of
               # running pytest inside pytest, as in this project's own pyproject)
               "    ignore:Module already imported:pytest.PytestAssertRewriteWarning\n")
    write_suite(pt.path, suite_yaml(data=write_csv(pt.path / "adult.csv"), champion=CHAMPION))
    run = gate(pt, f"--evalgate={CANDIDATE}")
    assert_promoted(run, pt.path / "reports")


def test_float32_regressor_is_consistent(pt: pytest.Pytester) -> None:
    """stress.consistency on a float32 regressor with outputs near 300 passes: float32
    rounding (3e-5 there) is not an inconsistency."""
    model = age_regressor(pt.path / "f32.onnx", slope=3.7, intercept=150.0,
                          dtype=TensorProto.FLOAT)
    checks = "  performance:\n    mae: {max: 1.0e9}\n  stress:\n    consistency: {}\n"
    write_suite(pt.path, suite_yaml(data=write_csv(pt.path / "adult.csv"), task="regression",
                                    target="fnlwgt", checks=checks, sensitive=""))
    run = gate(pt, f"--evalgate={model}")
    assert_promoted(run, pt.path / "reports")


def test_champion_on_words_candidate_on_codes_promotes(pt: pytest.Pytester) -> None:
    """label_map: candidate and champion may use different encodings."""
    model = candidate_variant(pt.path / "in" / "codes.onnx", classes=[0, 1])
    champion = variant_bytes(CHAMPION, pt.path / "in" / "champion.onnx", "words")
    text = suite_yaml(data=write_csv(pt.path / "adult.csv"), champion=champion,
                      data_extra='  label_map: {">50K": 1, "<=50K": 0}')
    write_suite(pt.path, text)
    run = gate(pt, f"--evalgate={model}")
    doc = assert_promoted(run, pt.path / "reports")
    assert doc is not None and doc["suites"][0]["checks"][0]["candidate"] > 0.85

