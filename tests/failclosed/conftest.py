"""Fixtures of the fail-closed corpus; the helpers live in :mod:`tests.failclosed.corpus`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.failclosed.corpus import CURRENT, LOG_ENV, recorded


@pytest.fixture(autouse=True)
def _current_case(request: pytest.FixtureRequest) -> None:
    CURRENT[0] = request.node.nodeid


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder as the working directory (for ``evalgate`` CLI cases)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("EVALGATE_SIGNING_KEY", raising=False)
    return tmp_path


@pytest.fixture
def pt(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester project with its rootdir pinned (for ``pytest --evalgate`` cases)."""
    pytester.makeini("[pytest]\n")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("EVALGATE_SIGNING_KEY", raising=False)
    return pytester


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    path = os.environ.get(LOG_ENV)
    if not path or report.when != "call" or recorded(item.nodeid) is not None:
        return
    # the case failed (or passed) before reaching its assertion helper: note how
    line = ""
    if call.excinfo is not None:
        line = f"{call.excinfo.typename}: {str(call.excinfo.value).splitlines()[0][:200]}" \
            if str(call.excinfo.value) else call.excinfo.typename
    entry = {"case": item.nodeid, "category": "crashed-before-assert" if report.failed
             else "ok-no-helper", "ret": None, "problems": [line] if line else [], "last": ""}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
