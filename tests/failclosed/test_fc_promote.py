"""Corpus: `evalgate promote` must trust nothing it cannot check (issue 11 §3, §2 "run in
progress"). Each case makes a real verdict with `evalgate run` (a first release: no champion)
and then tampers with it, or with what it covered, before promoting.

Interface assumed where it is not built yet (DESIGN §1, issue 11 §3):
- ``evalgate keygen --out DIR`` writes a key pair into DIR: the public key is the one file whose
  name ends ``.pub.pem``, the private key the other file;
- ``EVALGATE_SIGNING_KEY=<private key file>`` makes ``evalgate run`` sign verdict.json;
- ``evalgate registry init --require-signed PUBKEY`` (registry ``registry/`` by default) makes
  ``promote`` refuse verdicts not signed by that key.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.failclosed.corpus import (
    CANDIDATE,
    PERF,
    PERF_LOGLOSS_FAILS,
    Run,
    assert_case,
    assert_refused,
    cli,
    suite_yaml,
    variant_bytes,
    write_csv,
    write_suite,
)

VERDICT = Path("reports/verdict.json")


def _run(project: Path, checks: str = PERF, extra: str = "") -> dict:
    data = project / "adult.csv"
    if not data.exists():
        write_csv(data)
    write_suite(project, suite_yaml(data=data, checks=checks, extra=extra))
    run = cli("run", CANDIDATE)
    assert run.ret in (0, 1) and VERDICT.is_file(), run.out
    return json.loads(VERDICT.read_text())


def _save(doc: dict) -> None:
    VERDICT.write_text(json.dumps(doc, indent=2))


def _promote(model: Path = CANDIDATE) -> Run:
    return cli("promote", model, "--name", "adult")


def _pass_everything(doc: dict) -> dict:
    """Edit statuses, decision and summary consistently: a forged promote."""
    for suite in doc["suites"]:
        for check in suite["checks"]:
            check["status"] = "pass"
    doc["decision"] = "promote"
    summary = doc.setdefault("summary", {})
    decided = sum(c["blocking"] for suite in doc["suites"] for c in suite["checks"])
    summary.update(failed=0, decided=decided, reasons=[])
    return doc


def _keys(folder: Path) -> tuple[Path, Path]:
    """(private, public) from `evalgate keygen --out folder`."""
    run = cli("keygen", "--out", folder)
    files = sorted(folder.glob("*")) if folder.is_dir() else []
    public = [f for f in files if f.name.endswith((".pub", ".pub.pem"))]
    private = [f for f in files if f not in public]
    assert run.ret == 0 and len(public) == 1 and len(private) == 1, run.out
    return private[0], public[0]


def decision_edited(project: Path) -> tuple[str, ...]:
    doc = _run(project, PERF_LOGLOSS_FAILS)
    doc["decision"] = "promote"
    _save(doc)
    return ("log_loss",)


def decision_and_summary_edited(project: Path) -> tuple[str, ...]:
    doc = _run(project, PERF_LOGLOSS_FAILS)
    doc["decision"] = "promote"
    doc["summary"].update(failed=0, reasons=[])
    _save(doc)
    return ("log_loss",)


def failing_check_removed(project: Path) -> tuple[str, ...]:
    doc = _run(project, PERF_LOGLOSS_FAILS)
    for suite in doc["suites"]:
        suite["checks"] = [c for c in suite["checks"] if c["status"] == "pass"]
    doc["decision"] = "promote"
    doc["summary"].update(total=2, failed=0, reasons=[])
    _save(doc)
    return ("log_loss",)


def suite_tightened_after_the_run(project: Path) -> tuple[str, ...]:
    _run(project)
    suite = project / "suites" / "adult.yaml"
    suite.write_text(suite.read_text().replace("min: 0.85", "min: 0.99"))
    return ("adult.yaml", "sha256")


def dataset_changed_after_the_run(project: Path) -> tuple[str, ...]:
    _run(project)
    data = project / "adult.csv"
    lines = data.read_text().splitlines(keepends=True)
    data.write_text("".join(lines[:-200]))
    return ("adult.csv", "sha256")


def verdict_for_other_model_bytes(project: Path) -> tuple[str, ...]:
    _run(project)
    variant_bytes(CANDIDATE, project / "candidate.onnx", "other")
    return ("another model",)


def unsigned_to_a_registry_requiring_signatures(project: Path) -> tuple[str, ...]:
    _, public = _keys(project / "keys")
    init = cli("registry", "init", "--require-signed", public)
    assert init.ret == 0, init.out
    _save(_pass_everything(_run(project, PERF_LOGLOSS_FAILS)))
    return ("sign",)


def signed_then_statuses_edited(project: Path, monkeypatch: pytest.MonkeyPatch
                                ) -> tuple[str, ...]:
    private, public = _keys(project / "keys")
    assert cli("registry", "init", "--require-signed", public).ret == 0
    monkeypatch.setenv("EVALGATE_SIGNING_KEY", str(private))
    _save(_pass_everything(_run(project, PERF_LOGLOSS_FAILS)))
    return ("signature",)


def signed_by_another_key(project: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    private, _ = _keys(project / "keys-a")
    _, trusted = _keys(project / "keys-b")
    assert cli("registry", "init", "--require-signed", trusted).ret == 0
    monkeypatch.setenv("EVALGATE_SIGNING_KEY", str(private))
    _run(project)
    return ("signature",)


CASES: list[Callable[..., tuple[str, ...]]] = [
    decision_edited,
    decision_and_summary_edited,
    failing_check_removed,
    suite_tightened_after_the_run,
    dataset_changed_after_the_run,
    verdict_for_other_model_bytes,
    unsigned_to_a_registry_requiring_signatures,
    signed_then_statuses_edited,
    signed_by_another_key,
]


@pytest.mark.parametrize("build", CASES, ids=[c.__name__ for c in CASES])
def test_promote_refuses(project: Path, monkeypatch: pytest.MonkeyPatch,
                         build: Callable[..., tuple[str, ...]]) -> None:
    args = (project, monkeypatch) if "monkeypatch" in build.__code__.co_varnames else (project,)
    needles = build(*args)
    model = project / "candidate.onnx" if (project / "candidate.onnx").exists() else CANDIDATE
    run = _promote(model)
    assert_refused(run, *needles)
    assert not (project / "registry" / "adult" / "versions" / "1").exists() or run.ret == 0


def test_crashed_run_leaves_no_old_promote(project: Path) -> None:
    """A run interrupted half-way (Ctrl-C, SIGINT, 2 s into a run that takes several
    seconds) must not leave the earlier PROMOTE verdict behind. It runs in a process of its
    own, as a user's run does: a signal that lands inside onnxruntime may take the process
    down rather than raise KeyboardInterrupt, and either way the verdict must say block."""
    import subprocess
    import sys
    import time

    _run(project)
    assert json.loads(VERDICT.read_text())["decision"] == "promote"
    # max_calls high: the run lasts its whole 4 s budget however fast the machine is
    slow = ("  latency:\n    batch_sizes: [1]\n    p99_ms: {1: 1000}\n    budget_s: 4\n"
            "    max_calls: 1000000\n")
    write_suite(project, suite_yaml(data=project / "adult.csv", checks=PERF + slow))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "evalgate", "run", str(CANDIDATE)],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    while json.loads(VERDICT.read_text())["decision"] == "promote" and proc.poll() is None \
            and time.perf_counter() - t0 < 60:
        time.sleep(0.05)  # until the run has begun (its "in progress" verdict is written)
    time.sleep(2.0)  # past the imports and into the checks (latency alone takes 4 s)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    run = Run(proc.returncode, out, time.perf_counter() - t0)
    doc = json.loads(VERDICT.read_text())
    problems = [] if doc.get("decision") == "block" else [
        f"verdict.json says {doc.get('decision')!r} after the run was killed"]
    if proc.returncode == 0:
        problems.append("the interrupted run exited 0")
    assert_case(run, problems, failed_open=doc.get("decision") == "promote",
                traceback_expected=True)


def test_signed_verdict_promotes_into_a_signing_registry(project: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """Positive control: the honest path through a registry that requires signatures."""
    private, public = _keys(project / "keys")
    assert cli("registry", "init", "--require-signed", public).ret == 0
    monkeypatch.setenv("EVALGATE_SIGNING_KEY", str(private))
    doc = _run(project)
    assert doc.get("signature", {}).get("algorithm") == "ed25519"
    run = _promote()
    assert "promoted adult version 1" in run.out, run.out
    assert_promoted_cli(run)


def test_honest_verdict_promotes(project: Path) -> None:
    """Positive control: the shipped candidate, a complete passing run, `evalgate promote`."""
    doc = _run(project)
    assert doc["decision"] == "promote"
    run = _promote()
    assert "promoted adult version 1" in run.out, run.out
    assert_promoted_cli(run)


def assert_promoted_cli(run: Run) -> None:
    problems = [] if run.ret == 0 else [f"exit status {run.ret}"]
    from tests.failclosed.corpus import _finish

    _finish("control-failed" if problems or "Traceback" in run.out else "control-ok", run,
            problems + (["a traceback"] if "Traceback" in run.out else []))

