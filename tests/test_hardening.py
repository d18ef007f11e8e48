"""Nothing crashes, hangs or eats the machine (issue 11 §4): parser limits, knob maxima,
regular files only, time limits on model calls and on the gate, huge outputs, malformed
verdicts, and evalgate's own warnings policy. Each case: block (or a refusal), the exit
status, one clear message, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import TensorProto, helper

from conftest import CANDIDATE, CHAMPION, ROOT, read_verdict, suite_text
from evalgate import models as eg_models
from evalgate.cli import main
from evalgate.data import read_table
from evalgate.engine import Gate, finite_or_error
from evalgate.errors import DataError, ModelLoadError, ModelOutputError, SpecError
from evalgate.families import CheckResult, load_suite
from evalgate.metrics import MetricOverflowError, get_metric
from evalgate.models import call_with_limit, load_model
from evalgate.models.outputs import MAX_PREDICTION
from evalgate.report import render, svg
from evalgate.spec.loader import MAX_BYTES, MAX_DEPTH, MAX_NODES, load_yaml
from tests import hardening_models
from tests.modelzoo import make_frame

QUICK = "  performance:\n    accuracy: {min: 0.5}\n"


@pytest.fixture(autouse=True)
def _restore_limits() -> Any:
    """Each test starts with the default per-call limit and no deadline, and leaves them so."""
    yield
    eg_models.set_call_timeout(eg_models.DEFAULT_CALL_TIMEOUT_S)
    eg_models.set_deadline(None)


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text, text
    assert "internal error" not in text, text


def _subprocess(args: list[str], cwd: Path, *, timeout_s: float = 120,
                call_timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """``evalgate ARGS`` in a fresh interpreter (so a hang is a test failure, not a hung
    suite), optionally with a per-call limit set first."""
    pre = f"evalgate.models.set_call_timeout({call_timeout!r}); " if call_timeout else ""
    code = (f"import sys, evalgate.models; {pre}from evalgate.cli import main; "
            f"sys.exit(main({args!r}))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout_s, env=env, check=False)


# --------------------------------------------------------------------------- parser limits


def test_a_20000_deep_list_is_a_spec_error_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("suite: deep\nchecks: " + "[" * 20_000 + "]" * 20_000 + "\n")
    with pytest.raises(SpecError) as info:
        load_suite(path)
    assert info.value.line == 2
    assert f"nests deeper than {MAX_DEPTH} levels" in str(info.value)


def test_nesting_within_the_limit_still_parses(tmp_path: Path) -> None:
    doc = load_yaml("a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n", tmp_path)
    assert isinstance(doc["a"], list)


def test_an_alias_bomb_is_a_spec_error(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    with pytest.raises(SpecError, match=f"more than {MAX_NODES:,} values"):
        load_yaml("\n".join(lines) + "\n", tmp_path / "bomb.yaml")


def test_merge_keys_still_work(tmp_path: Path) -> None:
    doc = load_yaml("base: &b {min: 0.5}\nx: {<<: *b, max: 0.9}\n", tmp_path / "s.yaml")
    assert doc["x"] == {"min": 0.5, "max": 0.9}


def test_a_suite_file_over_1_mib_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(suite_text() + "#" * (MAX_BYTES + 10) + "\n")
    with pytest.raises(SpecError, match=r"above the limit of 1,048,576 \(1 MiB\)"):
        load_suite(path)


def test_evalgate_run_and_validate_on_a_deep_suite(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    suite = tmp_path / "deep.yaml"
    suite.write_text("suite: deep\ntask: binary\nchecks: " + "[" * 20_000 + "\n")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "verdict.json").write_text('{"decision": "promote"}')
    assert main(["run", str(CANDIDATE), "--suites", str(suite)]) == 1
    out = capsys.readouterr()
    _no_traceback(out.out + out.err)
    assert "deep.yaml:3: the YAML nests deeper than 64 levels" in out.out
    assert out.out.rstrip().splitlines()[-1].startswith("evalgate: BLOCK")
    assert json.loads((tmp_path / "reports" / "verdict.json").read_text())["decision"] == "block"
    assert main(["validate", str(suite)]) == 1
    out = capsys.readouterr()
    _no_traceback(out.out + out.err)
    assert out.out.startswith("INVALID deep.yaml:3: the YAML nests deeper than 64 levels")


def test_pytest_gate_on_a_deep_suite_blocks(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "deep.yaml").write_text(
        "suite: deep\ntask: binary\nchecks:\n  x: " + "[" * 20_000 + "\n")
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    out = result.stdout.str()
    assert result.ret == 1, out
    _no_traceback(out)
    assert "nests deeper than 64 levels" in out
    assert result.outlines[-1].startswith("evalgate: BLOCK")


# --------------------------------------------------------------------------- knob maxima


KNOBS = [
    ("n_resamples: 10000000\n", QUICK, "n_resamples: 10000000 is above the maximum 100000"),
    ("", "  latency:\n    batch_sizes: [1]\n    p99_ms: {1: 5}\n    budget_s: 1000000\n",
     "budget_s: 1000000 is above the maximum 600"),
    ("", "  latency:\n    batch_sizes: [1, 1000000000]\n    p99_ms: {1: 5}\n",
     "batch_sizes: 1000000000 is above the maximum 100000"),
    ("", "  latency:\n    batch_sizes: [1]\n    p99_ms: {1: 5}\n    warmup: 100000000\n",
     "warmup: 100000000 is above the maximum 10000"),
    ("", "  stress:\n    load: {rate: 1000000000, duration_s: 3}\n",
     "rate: 1000000000 is above the maximum 10000"),
    ("", "  stress:\n    load: {rate: 100, duration_s: 86400}\n",
     "duration_s: 86400 is above the maximum 300"),
    ("", "  stress:\n    load: {rate: 100, workers: 100000}\n",
     "workers: 100000 is above the maximum 64"),
    ("", "  stress:\n    memory: {batch_size: 1000000000000}\n",
     "batch_size: 1000000000000 is above the maximum 1000000"),
    ("", "  stress:\n    consistency: {rows: 100000000}\n",
     "rows: 100000000 is above the maximum 100000"),
    ("", ("  robustness:\n    monotonic:\n      age: {direction: increasing, "
          "examples: 100000000}\n"), "examples: 100000000 is above the maximum 10000"),
    ("", "  robustness:\n    monotonic:\n      age: {direction: increasing, rows: 100000000}\n",
     "rows: 100000000 is above the maximum 100000"),
    ("", ("  bias:\n    groups: [age]\n    metrics: [selection_rate]\n"
          "    max_difference: 0.2\n    bins: {age: 100000000}\n"),
     "age: 100000000 is above the maximum 1000"),
]


@pytest.mark.parametrize(("extra", "checks", "message"), KNOBS,
                         ids=[m.split(":")[0] for _, _, m in KNOBS])
def test_a_knob_above_its_maximum_is_refused(tmp_path: Path, extra: str, checks: str,
                                             message: str) -> None:
    path = tmp_path / "s.yaml"
    text = suite_text(checks=checks, extra=extra)
    if extra:
        text = text.replace("n_resamples: 400\n", "")
    if "groups: [age]" in checks:
        text = text.replace("sensitive: [sex, race]", "sensitive: [sex, race, age]")
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_suite(path)
    assert message in str(info.value)
    assert info.value.line is not None


def test_a_knob_at_its_maximum_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(suite_text(checks="  stress:\n    load: {rate: 10000, duration_s: 300, "
                                      "workers: 64}\n"))
    load = load_suite(path).families["stress"].load
    assert (load.rate, load.duration_s, load.workers) == (10_000, 300, 64)


def test_pytest_gate_with_huge_n_resamples_blocks(pytester: pytest.Pytester,
                                                  gate_project) -> None:
    suite = gate_project()
    suite.write_text(suite.read_text().replace("n_resamples: 400", "n_resamples: 10000000"))
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    out = result.stdout.str()
    assert result.ret == 1
    _no_traceback(out)
    assert "n_resamples: 10000000 is above the maximum 100000" in out


# --------------------------------------------------------------------------- regular files


@pytest.mark.e2e
def test_a_fifo_as_the_candidate_blocks_at_once(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "adult.yaml").write_text(suite_text())
    os.mkfifo(tmp_path / "pipe.onnx")
    started = time.monotonic()
    proc = _subprocess(["run", "pipe.onnx"], tmp_path, timeout_s=120)
    assert time.monotonic() - started < 60
    assert proc.returncode == 1, proc.stdout + proc.stderr
    _no_traceback(proc.stdout + proc.stderr)
    assert "pipe.onnx: is a FIFO (named pipe), not a model file" in proc.stdout
    verdict = json.loads((tmp_path / "reports" / "verdict.json").read_text())
    assert verdict["decision"] == "block"


def test_a_fifo_as_the_champion_under_pytest_blocks(pytester: pytest.Pytester,
                                                    gate_project) -> None:
    os.mkfifo(pytester.path / "champ.onnx")
    gate_project(champion=pytester.path / "champ.onnx")
    result = pytester.runpytest_subprocess(f"--evalgate={CANDIDATE}", timeout=120)
    out = result.stdout.str()
    assert result.ret == 1, out
    _no_traceback(out)
    assert "champ.onnx: champion: is a FIFO (named pipe), not a model file" in out


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_load_model_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "m.onnx"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to("/dev/null")
    with pytest.raises(ModelLoadError) as info:
        load_model(path)
    want = {"fifo": "a FIFO (named pipe)", "directory": "a directory",
            "device": "a character device"}[kind]
    assert f"is {want}, not a model file" in str(info.value)
    assert str(path) in str(info.value)


def _returns_within(fn: Any, seconds: float) -> tuple[bool, Any]:
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(fn())
        except Exception as exc:
            box.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    return not t.is_alive(), box[0] if box else None


def test_read_table_refuses_a_fifo(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    os.mkfifo(path)
    done, got = _returns_within(lambda: read_table(path), 10)
    assert done, "read_table blocked on a FIFO"
    assert isinstance(got, DataError)
    assert "is a FIFO (named pipe), not a data file" in str(got)


def test_a_fifo_as_the_suite_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    os.mkfifo(path)
    done, got = _returns_within(lambda: load_suite(path), 10)
    assert done, "load_suite blocked on a FIFO"
    assert isinstance(got, SpecError) and "FIFO" in str(got)


# --------------------------------------------------------------------------- time limits


def _forever_onnx(path: Path) -> Path:
    """A regressor on ``age`` with a Loop of 10**15 iterations: it never answers."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["acc_in", "one"], ["acc_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", TensorProto.DOUBLE, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.DOUBLE, [])],
        initializer=[helper.make_tensor("one", TensorProto.DOUBLE, [], [1.0])])
    graph = helper.make_graph(
        [helper.make_node("Loop", ["M", "cond", "acc0"], ["acc"], body=body),
         helper.make_node("Mul", ["acc", "zero"], ["z"]),
         helper.make_node("Add", ["age", "z"], ["variable"])], "forever",
        [helper.make_tensor_value_info("age", TensorProto.DOUBLE, [None, 1])],
        [helper.make_tensor_value_info("variable", TensorProto.DOUBLE, [None, 1])],
        initializer=[helper.make_tensor("M", TensorProto.INT64, [], [10**15]),
                     helper.make_tensor("cond", TensorProto.BOOL, [], [True]),
                     helper.make_tensor("acc0", TensorProto.DOUBLE, [], [0.0]),
                     helper.make_tensor("zero", TensorProto.DOUBLE, [], [0.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def _scaled_onnx(path: Path, factor: float, offset: float = 0.0) -> Path:
    """A regressor answering ``age * factor + offset`` (float64)."""
    graph = helper.make_graph(
        [helper.make_node("Mul", ["age", "c"], ["m"]),
         helper.make_node("Add", ["m", "e"], ["variable"])], "scaled",
        [helper.make_tensor_value_info("age", TensorProto.DOUBLE, [None, 1])],
        [helper.make_tensor_value_info("variable", TensorProto.DOUBLE, [None, 1])],
        initializer=[helper.make_tensor("c", TensorProto.DOUBLE, [1, 1], [factor]),
                     helper.make_tensor("e", TensorProto.DOUBLE, [1, 1], [offset])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def _regression_project(tmp_path: Path, checks: str) -> Path:
    make_frame(300).to_csv(tmp_path / "reg.csv", index=False)
    suite = tmp_path / "reg.yaml"
    suite.write_text("suite: reg\ntask: regression\ndata: {path: reg.csv, target: price, "
                     f"features: [age]}}\nn_resamples: 200\nchecks:\n{checks}")
    return suite


@pytest.fixture(scope="module")
def pickles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("hardening")
    out = {"never": tmp / "never.joblib", "warns": tmp / "warns.joblib"}
    joblib.dump(hardening_models.NeverAnswers(), out["never"])
    joblib.dump(hardening_models.Warns(), out["warns"])
    return out


def test_call_with_limit_abandons_a_call_that_never_answers() -> None:
    eg_models.set_call_timeout(0.3)
    started = time.monotonic()
    with pytest.raises(ModelOutputError) as info:
        call_with_limit(lambda: threading.Event().wait(), "m.pkl")
    assert time.monotonic() - started < 5
    assert "did not answer within 0.3 s" in str(info.value)
    assert "abandoned" in str(info.value)


def test_call_with_limit_returns_and_raises_as_the_call_did() -> None:
    assert call_with_limit(lambda: 42, "m") == 42
    with pytest.raises(KeyError, match="boom"):
        call_with_limit(lambda: {}["boom"], "m")
    results: list[int] = []
    threads = [threading.Thread(target=lambda i=i: results.append(
        call_with_limit(lambda: (time.sleep(0.05), i)[1], "m"))) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(8))  # overlapping calls, each answered


def test_set_call_timeout_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        eg_models.set_call_timeout(0)
    eg_models.set_call_timeout(None)
    assert eg_models.call_timeout() is None
    assert call_with_limit(lambda: "no limit", "m") == "no limit"


def test_an_onnx_model_that_never_answers_is_terminated(tmp_path: Path) -> None:
    model = load_model(_forever_onnx(tmp_path / "forever.onnx"))
    eg_models.set_call_timeout(1.0)
    started = time.monotonic()
    with pytest.raises(ModelOutputError, match="the model did not answer within 1 s"):
        model.predict(pd.DataFrame({"age": [30.0, 40.0]}), ["age"])
    assert time.monotonic() - started < 10
    # the session is still usable, and a normal call is not cut
    ok = load_model(_scaled_onnx(tmp_path / "ok.onnx", 1.0))
    assert ok.predict(pd.DataFrame({"age": [30.0]}), ["age"]).values.tolist() == [30.0]


@pytest.mark.e2e
def test_evalgate_run_with_an_onnx_model_that_never_answers(tmp_path: Path) -> None:
    _regression_project(tmp_path, "  performance:\n    mae: {max: 100}\n")
    _forever_onnx(tmp_path / "forever.onnx")
    proc = _subprocess(["run", "forever.onnx", "--suites", "reg.yaml"], tmp_path,
                       timeout_s=120, call_timeout=2.0)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    _no_traceback(proc.stdout + proc.stderr)
    assert "forever.onnx: the model did not answer within 2 s" in proc.stdout
    assert "Non-zero status code" not in proc.stderr  # onnxruntime's log line is silenced


def test_pytest_gate_with_a_pickle_that_never_answers(pytester: pytest.Pytester,
                                                      gate_project, pickles) -> None:
    gate_project(checks=QUICK, champion=None)
    eg_models.set_call_timeout(1.0)
    started = time.monotonic()
    result = pytester.runpytest(f"--evalgate={pickles['never']}", "--evalgate-trust-pickle")
    assert time.monotonic() - started < 60
    out = result.stdout.str()
    assert result.ret == 1, out
    _no_traceback(out)
    assert "the model did not answer within 1 s" in out and "abandoned" in out
    verdict = read_verdict(pytester.path)
    assert verdict["decision"] == "block"
    assert {c["status"] for c in verdict["suites"][0]["checks"]} == {"error"}


def test_the_gate_deadline_refuses_a_suite_after_it(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(suite_text())
    gate = Gate(CANDIDATE, champion=CHAMPION, timeout_s=0.01)
    time.sleep(0.05)
    outcome = gate.run_suite(gate.load(path))
    assert [r.status for r in outcome.results] == ["error"] * 3
    assert outcome.results[0].message == (
        "the gate's time limit of 0.01 s was reached before this suite ran")


def test_the_gate_deadline_cuts_a_model_call(tmp_path: Path, pickles) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(suite_text(checks=QUICK, champion=None))
    gate = Gate(pickles["never"], trust_pickle=True, timeout_s=1.5)
    started = time.monotonic()
    outcome = gate.run_suite(gate.load(path))
    assert time.monotonic() - started < 20
    assert [r.status for r in outcome.results] == ["error"]
    assert "the time left of the gate's limit of 1.5 s" in outcome.results[0].message
    assert eg_models.deadline() == (None, None)  # restored after the suite


def test_a_generous_gate_deadline_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(suite_text())
    gate = Gate(CANDIDATE, champion=CHAMPION, timeout_s=3600)
    assert {r.status for r in gate.run_suite(gate.load(path)).results} == {"pass"}


def test_gate_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Gate(CANDIDATE, timeout_s=0)


# --------------------------------------------------------------------------- huge outputs


@pytest.mark.parametrize(("factor", "offset"), [(1e300, 0.0), (0.0, 1e308), (0.0, -1e308),
                                                (1e150, 0.0)])
def test_huge_regression_outputs_are_errors_and_the_report_renders(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        factor: float, offset: float) -> None:
    monkeypatch.chdir(tmp_path)
    _regression_project(tmp_path, "  performance:\n    mae: {max: 1.0e+308}\n"
                                  "    rmse: {max: 1.0e+308}\n"
                                  "    median_absolute_error: {max: 1.0e+308}\n")
    _scaled_onnx(tmp_path / "huge.onnx", factor, offset)
    assert main(["run", "huge.onnx", "--suites", "reg.yaml"]) == 1
    out = capsys.readouterr()
    _no_traceback(out.out + out.err)
    # refused where the predictions are read, naming the model (outputs.MAX_PREDICTION),
    # before any metric's arithmetic meets them
    assert "huge.onnx: the model returned implausibly large predictions" in out.out
    assert f"beyond ±{MAX_PREDICTION:g}" in out.out
    verdict = json.loads((tmp_path / "reports" / "verdict.json").read_text())
    assert verdict["decision"] == "block"
    assert {c["status"] for c in verdict["suites"][0]["checks"]} == {"error"}
    assert (tmp_path / "reports" / "evalgate-report.html").is_file()


def test_ordinary_regression_outputs_still_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    monkeypatch.chdir(tmp_path)
    _regression_project(tmp_path, "  performance:\n    mae: {max: 1000}\n"
                                  "    rmse: {max: 1000}\n")
    _scaled_onnx(tmp_path / "ok.onnx", 1.0, 110.0)
    assert main(["run", "ok.onnx", "--suites", "reg.yaml"]) == 0


def test_regression_metrics_refuse_overflowing_values() -> None:
    y = np.linspace(100, 300, 50)
    for name in ("mae", "mse", "rmse", "r2", "median_absolute_error", "mape"):
        metric = get_metric(name, "regression")
        with pytest.raises(MetricOverflowError, match=name):
            metric.fn(y, np.full(50, 1e200))
    assert get_metric("mae", "regression").fn(y, y + 1) == pytest.approx(1.0)


def test_charts_draw_huge_and_degenerate_values() -> None:
    pts = {"candidate": [[-1e308, 1e308], [1e308, -1e308], [float("nan"), 1.0]],
           "champion": [[1e308, 1e308]]}
    chart = svg.lines(pts, title="Residuals", xlabel="x", ylabel="y", dots=True)
    assert "drawn at the edge" in chart and "nan" not in chart.lower().replace("<title>", "")
    assert svg.lines({"candidate": [[1e308, 5.0]]}, title="t", xlabel="x", ylabel="y")
    forest = svg.forest([{"label": "mae", "estimate": -1e308, "lower": -1.7e308,
                          "margin": -0.01, "status": "fail"}])
    assert "drawn at the edge" in forest
    assert svg.intervals([{"label": "a", "model": "candidate", "value": 0.0, "lower": 0.0,
                           "upper": 0.0}], title="gap", hi=0.0)


def test_the_report_renders_a_verdict_with_huge_numbers(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _regression_project(tmp_path, "  performance:\n    mae: {max: 1000}\n")
    _scaled_onnx(tmp_path / "ok.onnx", 1.0, 110.0)
    main(["run", "ok.onnx", "--suites", "reg.yaml"])
    verdict = json.loads((tmp_path / "reports" / "verdict.json").read_text())
    suite = verdict["suites"][0]
    suite["plots"]["residuals"]["candidate"]["points"] = [[-1e308, 1e308], [1e308, 1e308]]
    check = suite["checks"][0]
    check.update(candidate=1e308, ci=[-1e308, 1.7e308], delta=-1e308, champion=1e308)
    html = render(verdict)
    assert "1e+308" in html and "drawn at the edge" in html


def test_a_pass_on_a_non_finite_number_is_an_error() -> None:
    base = CheckResult(id="s::performance::mae", family="performance", name="mae",
                       status="pass", blocking=True, message="mae 1.0 ≤ 2", candidate=1.0,
                       ci=(0.5, 1.5))
    assert finite_or_error(base) is base
    for bad in ({"candidate": float("inf")}, {"ci": (float("nan"), 1.5)},
                {"delta": float("nan")}, {"champion": float("-inf")}):
        out = finite_or_error(CheckResult(**{**base.__dict__, **bad}))
        assert out.status == "error" and "not finite" in out.message
    failing = CheckResult(**{**base.__dict__, "status": "fail", "candidate": float("nan")})
    assert finite_or_error(failing) is failing


# --------------------------------------------------------------------------- malformed verdicts


MALFORMED = {
    "not-json": "this is { not json",
    "a-list": "[1, 2, 3]",
    "a-string": '"promote"',
    "deep": "[" * 100_000,
    "no-schema": '{"decision": "promote"}',
    "missing-keys": '{"schema": "evalgate.verdict/1", "decision": "promote"}',
    "suites-a-string": json.dumps({"schema": "evalgate.verdict/1", "decision": "promote",
                                   "candidate": {"path": "m.onnx"}, "provenance": {},
                                   "summary": {}, "suites": "all of them"}),
    "check-without-status": json.dumps({
        "schema": "evalgate.verdict/1", "decision": "promote", "candidate": {"path": "m"},
        "provenance": {}, "summary": {}, "suites": [{"name": "s", "checks": [
            {"id": "s::performance::x", "family": "performance", "blocking": True,
             "message": "ok"}]}]}),
    "status-a-number": json.dumps({
        "schema": "evalgate.verdict/1", "decision": "promote", "candidate": {"path": "m"},
        "provenance": {}, "summary": {}, "suites": [{"name": "s", "checks": [
            {"id": "s::performance::x", "family": "performance", "status": 5,
             "blocking": True, "message": "ok"}]}]}),
    "decision-unknown": json.dumps({"schema": "evalgate.verdict/1", "decision": "maybe"}),
    "candidate-a-string": json.dumps({"schema": "evalgate.verdict/1", "decision": "promote",
                                      "candidate": "m.onnx", "provenance": {}, "summary": {},
                                      "suites": []}),
}


@pytest.mark.parametrize("verb", ["report", "signoff"])
@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_verdict_gives_one_clear_message(tmp_path: Path, verb: str, name: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "verdict.json"
    path.write_text(MALFORMED[name])
    args = [verb, str(path)] + (["--reviewer", "ana"] if verb == "signoff" else [])
    assert main(args) == 1
    out = capsys.readouterr()
    _no_traceback(out.out + out.err)
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"evalgate: {path}: "), out.err
    assert "verdict" in lines[0]
    assert not (tmp_path / "signoff.json").exists()
    assert not (tmp_path / "evalgate-report.html").exists()


def test_report_into_an_unwritable_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "adult.yaml").write_text(suite_text())
    main(["run", str(CANDIDATE)])
    capsys.readouterr()
    (tmp_path / "a-file").write_text("")
    assert main(["report", "reports/verdict.json", "--out", "a-file/sub"]) == 1
    out = capsys.readouterr()
    _no_traceback(out.out + out.err)
    assert out.err.startswith("evalgate: a-file/sub: cannot write the report")


# --------------------------------------------------------------------------- warnings policy


def test_model_calls_ignore_the_hosts_warning_filters() -> None:
    def warns() -> int:
        warnings.warn("from the model", UserWarning, stacklevel=1)
        return 7

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert call_with_limit(warns, "m") == 7
        with eg_models.model_warnings():
            warns()
        with pytest.raises(UserWarning):  # the host's filters are back afterwards
            warns()


def test_overlapping_model_calls_restore_the_hosts_filters() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        threads = [threading.Thread(target=lambda: call_with_limit(
            lambda: (time.sleep(0.02), warnings.warn("w", stacklevel=1)), "m"))
            for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with pytest.raises(UserWarning):
            warnings.warn("the host's own warning", stacklevel=1)


def test_filterwarnings_error_gives_the_same_verdict_as_evalgate_run(
        pytester: pytest.Pytester, gate_project, pickles) -> None:
    gate_project(checks=QUICK, champion=None)
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n"
                     # pytester's inner sessions re-register the imported plugin (an artefact
                     # of running pytest inside pytest, as in this project's own pyproject)
                     "    ignore:Module already imported:pytest.PytestAssertRewriteWarning\n")
    result = pytester.runpytest(f"--evalgate={pickles['warns']}", "--evalgate-trust-pickle")
    out = result.stdout.str()
    _no_traceback(out)
    plugin = read_verdict(pytester.path)
    assert main(["run", str(pickles["warns"]), "--trust-pickle", "--report", "cli"]) == 0
    cli = json.loads((pytester.path / "cli" / "verdict.json").read_text())
    assert cli["decision"] == "promote"
    assert result.ret == 0, out
    assert plugin["decision"] == "promote"
    strip = ("message",)
    assert ([{k: v for k, v in c.items() if k not in strip} for c in cli["suites"][0]["checks"]]
            == [{k: v for k, v in c.items() if k not in strip}
                for c in plugin["suites"][0]["checks"]])


def test_the_timeout_flag_bounds_the_whole_gate(pytester: pytest.Pytester, gate_project,
                                                pickles) -> None:
    """``--evalgate-timeout`` reaches the Gate: a model that never answers is cut at the
    gate's limit, well before the per-call default of 600 s."""
    gate_project(checks=QUICK, champion=None)
    started = time.monotonic()
    result = pytester.runpytest(f"--evalgate={pickles['never']}", "--evalgate-trust-pickle",
                                "--evalgate-timeout=2")
    assert time.monotonic() - started < 60
    out = result.stdout.str()
    assert result.ret == 1, out
    _no_traceback(out)
    assert "the gate's limit of 2 s" in out
    assert read_verdict(pytester.path)["decision"] == "block"


@pytest.mark.parametrize("value", ["0", "-1", "soon", "1e12"])
def test_the_timeout_flag_refuses_nonsense(pytester: pytest.Pytester, gate_project,
                                           value: str) -> None:
    gate_project()
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", f"--evalgate-timeout={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--evalgate-timeout" in result.stderr.str()


@pytest.mark.e2e
def test_evalgate_run_timeout_and_the_pyproject_setting(tmp_path: Path, monkeypatch,
                                                        pickles, capsys) -> None:
    from evalgate.cli import main

    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "s.yaml").write_text(suite_text(checks=QUICK, champion=None))
    (tmp_path / "pyproject.toml").write_text("[tool.evalgate]\ntimeout_s = 2\n")
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    assert main(["run", str(pickles["never"]), "--trust-pickle"]) == 1
    assert time.monotonic() - started < 60
    assert "the gate's limit of 2 s" in capsys.readouterr().out
    (tmp_path / "pyproject.toml").write_text("[tool.evalgate]\ntimeout_s = 'soon'\n")
    assert main(["run", str(pickles["never"]), "--trust-pickle"]) == 2
    assert "timeout_s" in capsys.readouterr().err
