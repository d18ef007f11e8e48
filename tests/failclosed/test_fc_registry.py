"""Corpus: a hand-edited registry must be refused on every read (issue 11 §3): by a gate
against ``registry:adult@champion``, by ``promote`` and by ``alias``.

Setup: the shipped champion is version 1 and champion (a first release through `evalgate run`
and `evalgate promote`); a weak model (age alone) is version 2, never champion."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.failclosed.corpus import (
    CANDIDATE,
    CHAMPION,
    PERF,
    age_classifier,
    assert_blocked,
    assert_refused,
    cli,
    suite_yaml,
    write_csv,
    write_suite,
)

REG = Path("registry/adult")


@pytest.fixture
def registry(project: Path) -> Path:
    data = write_csv(project / "adult.csv")
    write_suite(project, suite_yaml(data=data, checks=PERF))
    assert cli("run", CHAMPION).ret == 0
    first = cli("promote", CHAMPION, "--name", "adult")
    assert first.ret == 0, first.out
    weak = age_classifier(project / "weak.onnx")
    assert cli("register", weak, "--name", "adult").ret == 0
    write_suite(project, suite_yaml(data=data, checks=PERF, champion="registry:adult@champion"))
    return project


def alias_points_at_a_version_never_champion(project: Path) -> tuple[str, ...]:
    state = json.loads((REG / "state.json").read_text())
    state["aliases"]["champion"] = 2
    state["champions"] = [2]
    (REG / "state.json").write_text(json.dumps(state, indent=2))
    return ("state.json",)


def version_json_sha256_edited(project: Path) -> tuple[str, ...]:
    weak = (project / "weak.onnx").read_bytes()
    (REG / "versions" / "1" / "model.onnx").write_bytes(weak)
    record = json.loads((REG / "versions" / "1" / "version.json").read_text())
    record.update(sha256=hashlib.sha256(weak).hexdigest(), size=len(weak))
    (REG / "versions" / "1" / "version.json").write_text(json.dumps(record, indent=2))
    return ("sha256",)


def audit_line_edited(project: Path) -> tuple[str, ...]:
    log = REG / "audit.jsonl"
    lines = log.read_text().splitlines()
    lines[0] = lines[0].replace('"user":"', '"user":"mallory-')
    log.write_text("\n".join(lines) + "\n")
    return ("audit",)


def model_file_bytes_changed(project: Path) -> tuple[str, ...]:
    (REG / "versions" / "1" / "model.onnx").write_bytes((project / "weak.onnx").read_bytes())
    return ("sha256",)


CASES: list[Callable[[Path], tuple[str, ...]]] = [
    alias_points_at_a_version_never_champion,
    version_json_sha256_edited,
    audit_line_edited,
    model_file_bytes_changed,
]


@pytest.mark.parametrize("tamper", CASES, ids=[c.__name__ for c in CASES])
def test_gate_against_a_tampered_registry_blocks(registry: Path,
                                                 tamper: Callable[[Path], tuple[str, ...]]
                                                 ) -> None:
    needles = tamper(registry)
    run = cli("run", CANDIDATE)
    assert_blocked(run, registry / "reports", *needles)


@pytest.mark.parametrize("tamper", CASES, ids=[c.__name__ for c in CASES])
def test_promote_into_a_tampered_registry_is_refused(registry: Path,
                                                     tamper: Callable[[Path], tuple[str, ...]]
                                                     ) -> None:
    """Tamper, gate (today the gate judges against the tampered champion), promote: the
    promotion must be refused, never "launder" the tamper into the log."""
    tamper(registry)
    cli("run", CANDIDATE)
    run = cli("promote", CANDIDATE)
    assert_refused(run)  # refused for the tamper, or because the gate blocked on it


def test_alias_in_a_tampered_registry_is_refused(registry: Path) -> None:
    needles = alias_points_at_a_version_never_champion(registry)
    run = cli("alias", "adult", "staging", "1")
    assert_refused(run, *needles)
