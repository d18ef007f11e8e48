"""Fixtures for evalgate's own tests (the gate itself needs none of this)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx  # noqa: F401
import onnxruntime  # noqa: F401
import pandas.core.arrays.arrow.extension_types
import pandas.io.parquet  # noqa: F401
import pyarrow.parquet  # noqa: F401
import pytest
import scipy.stats  # noqa: F401

import evalgate.engine

# pytester's in-process runs drop modules first imported inside them; numpy and onnxruntime
# cannot be imported twice in one process, so the gate's whole import graph is loaded here.
import evalgate.families.bias.check
import evalgate.families.latency.check
import evalgate.families.performance.check
import evalgate.families.robustness.check
import evalgate.families.stress.check
import evalgate.models.onnx
import evalgate.models.sklearn
import evalgate.output  # noqa: F401

ROOT = Path(__file__).resolve().parent
EXAMPLES = ROOT / "examples"
ADULT_TEST = EXAMPLES / "data" / "adult_test.csv.gz"
CANDIDATE = EXAMPLES / "models" / "candidate.onnx"
CHAMPION = EXAMPLES / "models" / "champion.onnx"

#: a quick suite on the shipped data: the metrics whose intervals cost nothing
QUICK_CHECKS = """\
  performance:
    roc_auc:  {min: 0.85, max_regression: 0.005}
    accuracy: {min: 0.80, max_regression: 0.01}
    log_loss: {max: 0.45, max_regression: 0.01}
"""


#: every verdict the gate writes during the tests is validated against the published JSON
#: Schema (evalgate.verdict.schema); problems are collected here and fail the session
#: (made by the process that starts the session — xdist workers inherit it — and removed at
#: its end). Only where jsonschema (a test dependency) is installed: this file is also the
#: conftest of `pytest --evalgate …` run from the repository on a plain install.
_VALIDATE = importlib.util.find_spec("jsonschema") is not None
_OWN_PROBLEMS_DIR = None if "EVALGATE_VALIDATE_VERDICTS" in os.environ or not _VALIDATE \
    else tempfile.mkdtemp(prefix="evalgate-verdicts-")
if _OWN_PROBLEMS_DIR is not None:
    os.environ["EVALGATE_VALIDATE_VERDICTS"] = os.path.join(_OWN_PROBLEMS_DIR, "problems.txt")
VERDICT_PROBLEMS = os.environ.get("EVALGATE_VALIDATE_VERDICTS", "")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any verdict written by any test (in process or in a subprocess) broke
    the schema."""
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller checks
        return
    path = Path(VERDICT_PROBLEMS) if VERDICT_PROBLEMS else None
    if path is not None and path.is_file() and path.read_text("utf-8").strip():
        lines = path.read_text("utf-8").strip().splitlines()
        session.config.get_terminal_writer().line(
            f"{len(lines)} verdict(s) written by the tests break evalgate.verdict/1's schema:\n"
            + "\n".join(lines[:20]), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if _OWN_PROBLEMS_DIR is not None:
        shutil.rmtree(_OWN_PROBLEMS_DIR, ignore_errors=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the long statistical simulations (marked slow)")


#: fixtures that run the whole gate through pytest (an inner pytest session)
E2E_FIXTURES = frozenset({"pytester", "gate_project"})
#: folders whose every test runs the whole gate (the fail-closed corpus)
E2E_FOLDERS = ("failclosed",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``e2e``: tests that run the whole gate (through pytest, the CLI or a browser) — the
    fast developer loop leaves them out (``pytest -m "not e2e and not slow"``); ``slow``:
    the long simulations, skipped unless ``--run-slow``."""
    e2e = pytest.mark.e2e
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & E2E_FIXTURES or any(part in E2E_FOLDERS for part in item.path.parts):
            item.add_marker(e2e)
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)


def suite_text(*, data: Path | str = ADULT_TEST, champion: Path | str | None = CHAMPION,
               checks: str = QUICK_CHECKS, name: str = "adult-income", target: str = "income",
               positive_label: str = ">50K", extra: str = "") -> str:
    """A suite YAML with absolute paths, so it can be written anywhere."""
    champ = f"champion: {json.dumps(str(champion))}\n" if champion is not None else ""
    return (f"suite: {json.dumps(name)}\ntask: binary\n"
            f"data:\n  path: {json.dumps(str(data))}\n  target: {target}\n"
            f"  positive_label: {json.dumps(positive_label)}\n  sensitive: [sex, race]\n"
            f"{champ}confidence: 0.95\nseed: 0\nn_resamples: 400\n{extra}checks:\n{checks}")


@pytest.fixture
def gate_project(pytester: pytest.Pytester) -> Callable[..., Path]:
    """Write ``suites/adult.yaml`` (quick checks by default) into a pytester project."""

    pytester.makeini("[pytest]\n")  # pin the rootdir to the test project

    def make(**kwargs: Any) -> Path:
        suites = pytester.path / "suites"
        suites.mkdir(exist_ok=True)
        path = suites / "adult.yaml"
        path.write_text(suite_text(**kwargs), encoding="utf-8")
        return path

    return make


def read_verdict(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "reports" / "verdict.json").read_text("utf-8"))
