"""Shared helpers of the fail-closed corpus (issue 11): small hostile inputs and one assertion
per kind of outcome.

Every corpus case builds one hostile input, runs the gate (in-process ``pytester.runpytest`` or
``evalgate.cli.main``) and asserts with one of the helpers below:

- :func:`assert_blocked` — a gate run: exit status 1, last line ``evalgate: BLOCK``, no
  traceback, ``verdict.json`` says ``block``, and the clear message's words in the output;
- :func:`assert_refused` — a refused ``evalgate promote`` (or other registry verb);
- :func:`assert_invalid` — ``evalgate validate`` says INVALID;
- :func:`assert_cli_error` — a CLI verb that gives one clear message on bad input.

Each helper collects *every* problem before it fails, and, when ``FC_CORPUS_LOG`` names a file,
appends one JSON line per case (failed open / blocked badly / ok) for the before/after table.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
import onnx
import pandas as pd
from onnx import TensorProto, helper

from conftest import ADULT_TEST, CANDIDATE, CHAMPION

__all__ = ["ADULT_TEST", "CANDIDATE", "CHAMPION"]

LOG_ENV = "FC_CORPUS_LOG"
#: the performance checks used across the corpus; pass on the shipped candidate (subset data)
PERF = """\
  performance:
    roc_auc:  {min: 0.85, max_regression: 0.02}
    accuracy: {min: 0.80, max_regression: 0.03}
    log_loss: {max: 0.45, max_regression: 0.03}
"""
#: the same, with a log_loss threshold no model meets (a failing third check)
PERF_LOGLOSS_FAILS = PERF.replace("log_loss: {max: 0.45,", "log_loss: {max: 0.01,")
#: label-only checks (no probabilities needed)
ACCURACY = """\
  performance:
    accuracy: {min: 0.70}
"""


# --------------------------------------------------------------------------- runs


@dataclass
class Run:
    """What one gate or CLI invocation printed and returned."""

    ret: int | None
    out: str
    elapsed_s: float = 0.0

    @property
    def lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.strip()]

    @property
    def last(self) -> str:
        return self.lines[-1] if self.lines else ""


def gate(pytester: Any, *args: str) -> Run:
    """``pytest --evalgate …`` in-process in the pytester project."""
    t0 = time.perf_counter()
    result = pytester.runpytest(*args)
    out = result.stdout.str() + "\n" + result.stderr.str()
    return Run(int(result.ret), out, time.perf_counter() - t0)


def cli(*argv: str | Path) -> Run:
    """``evalgate ARGV`` in-process; an escaping exception is kept as its traceback text."""
    from evalgate.cli import main

    buf = io.StringIO()
    t0 = time.perf_counter()
    ret: int | None
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            ret = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse: unknown verb or flag
            ret = exc.code if isinstance(exc.code, int) else 2
        except BaseException:
            buf.write(traceback.format_exc())
            ret = None
    return Run(ret, buf.getvalue(), time.perf_counter() - t0)


# --------------------------------------------------------------------------- recording


_RECORDED: dict[str, dict[str, Any]] = {}
#: the running case's node id (set by an autouse fixture: inner pytester runs clear
#: PYTEST_CURRENT_TEST)
CURRENT = ["?"]


def _nodeid() -> str:
    return CURRENT[0]


def _record(category: str, run: Run, problems: Sequence[str]) -> None:
    """``failed-open`` / ``blocked-badly`` / ``ok`` for the before/after table."""
    entry = {"case": _nodeid(), "category": category, "ret": run.ret,
             "problems": list(problems), "last": run.last[:200]}
    _RECORDED[entry["case"]] = entry
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


def recorded(nodeid: str) -> dict[str, Any] | None:
    return _RECORDED.get(nodeid)


def _read_verdict(verdict_dir: Path | None) -> tuple[dict[str, Any] | None, str | None]:
    if verdict_dir is None:
        return None, None
    path = verdict_dir / "verdict.json"
    if not path.is_file():
        return None, f"no verdict.json in {verdict_dir}"
    try:
        doc = json.loads(path.read_text("utf-8"))
    except ValueError as exc:
        return None, f"verdict.json is not JSON: {exc}"
    if not isinstance(doc, dict):
        return None, "verdict.json is not an object"
    return doc, None


def _common(run: Run, needles: Sequence[str], absent: Sequence[str] = ()) -> list[str]:
    problems = [f"{word!r} in the output" for word in absent if word in run.out]
    if "Traceback" in run.out:
        problems.append("a traceback in the output")
    if "internal error" in run.out:
        problems.append("'internal error' in the output")
    for needle in needles:
        if needle not in run.out:
            problems.append(f"{needle!r} not in the output")
    return problems


def _finish(category: str | None, run: Run, problems: list[str]) -> None:
    if category is None:
        category = "blocked-badly" if problems else "ok"
    _record(category, run, problems)
    if problems:
        raise AssertionError(f"[{category}] " + "; ".join(problems) + "\n--- output ---\n"
                             + run.out[-6000:])


def assert_blocked(run: Run, verdict_dir: Path | None, *needles: str,
                   verdict_required: bool = True, absent: Sequence[str] = (),
                   problems: Sequence[str] = ()) -> dict[str, Any] | None:
    """A gate run that must block: status 1, a BLOCK last line, verdict ``block``, no
    traceback, each needle in the output. Returns the verdict."""
    doc, missing = _read_verdict(verdict_dir)
    opened = run.ret == 0 or any(line.startswith("evalgate: PROMOTE") for line in run.lines) \
        or (doc is not None and doc.get("decision") == "promote")
    found = [*problems, *_common(run, needles, absent)]
    problems = found
    if run.ret != 1:
        problems.append(f"exit status {run.ret}, not 1")
    if not run.last.startswith("evalgate: BLOCK"):
        problems.append(f"last line is {run.last[:120]!r}, not 'evalgate: BLOCK …'")
    if doc is not None and doc.get("decision") != "block":
        problems.append(f"verdict decision is {doc.get('decision')!r}")
    if missing and verdict_required:
        problems.append(missing)
    _finish("failed-open" if opened else None, run, problems)
    return doc


def assert_refused(run: Run, *needles: str) -> None:
    """A registry verb (promote, alias, rollback, …) that must refuse: status 1, no traceback."""
    problems = _common(run, needles)
    if run.ret != 1:
        problems.append(f"exit status {run.ret}, not 1")
    _finish("failed-open" if run.ret == 0 else None, run, problems)


def assert_invalid(run: Run, *needles: str) -> None:
    """``evalgate validate`` on a suite that must be refused: status 1, an INVALID line."""
    problems = _common(run, needles)
    if run.ret != 1:
        problems.append(f"exit status {run.ret}, not 1")
    if not any(line.startswith("INVALID") for line in run.lines):
        problems.append("no INVALID line")
    _finish("failed-open" if run.ret == 0 else None, run, problems)


def assert_cli_error(run: Run, *needles: str, statuses: tuple[int, ...] = (1, 2)) -> None:
    """A verb given bad input: a non-zero status in ``statuses``, one clear message."""
    problems = _common(run, needles)
    if run.ret not in statuses:
        problems.append(f"exit status {run.ret}, not one of {statuses}")
    _finish("failed-open" if run.ret == 0 else None, run, problems)


def assert_case(run: Run, problems: Sequence[str], *, failed_open: bool,
                traceback_expected: bool = False) -> None:
    """A case with its own checks: ``problems`` found by the test, ``failed_open`` when the
    gate said yes where it must say no."""
    found = [*problems, *([] if traceback_expected else _common(run, ()))]
    _finish("failed-open" if failed_open else None, run, found)


def assert_promoted(run: Run, verdict_dir: Path | None) -> dict[str, Any] | None:
    """A positive control: the gate promotes (status 0, PROMOTE last line, verdict promote)."""
    doc, missing = _read_verdict(verdict_dir)
    problems = _common(run, ())
    if run.ret != 0:
        problems.append(f"exit status {run.ret}, not 0")
    if not run.last.startswith("evalgate: PROMOTE"):
        problems.append(f"last line is {run.last[:120]!r}")
    if missing:
        problems.append(missing)
    elif doc is not None and doc.get("decision") != "promote":
        problems.append(f"verdict decision is {doc.get('decision')!r}")
    _finish("control-failed" if problems else "control-ok", run, problems)
    return doc


def check_statuses(doc: dict[str, Any] | None) -> dict[str, str]:
    """``check id → status`` of a verdict."""
    if not doc:
        return {}
    return {c["id"]: c["status"] for s in doc.get("suites", ()) for c in s.get("checks", ())}


# --------------------------------------------------------------------------- data and suites


_ADULT: pd.DataFrame | None = None


def adult(rows: int = 1500) -> pd.DataFrame:
    """The first ``rows`` rows of the shipped Adult test set (read once per process)."""
    global _ADULT
    if _ADULT is None:
        _ADULT = pd.read_csv(ADULT_TEST)
    return _ADULT.head(rows).copy()


def write_csv(path: Path, frame: pd.DataFrame | None = None, rows: int = 1500) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (adult(rows) if frame is None else frame).to_csv(path, index=False)
    return path


def suite_yaml(*, data: Path | str, task: str = "binary", target: str = "income",
               positive_label: str | None = ">50K", champion: Path | str | None = None,
               checks: str = PERF, name: str = "adult-income", data_extra: str = "",
               extra: str = "", sensitive: str = "[sex, race]", n_resamples: int = 400) -> str:
    """A suite YAML with absolute paths (so it can be written anywhere)."""
    lines = [f"suite: {json.dumps(name)}", f"task: {task}", "data:",
             f"  path: {json.dumps(str(data))}", f"  target: {json.dumps(target)}"]
    if task == "binary" and positive_label is not None:
        lines.append(f"  positive_label: {json.dumps(positive_label)}")
    if sensitive:
        lines.append(f"  sensitive: {sensitive}")
    if data_extra:
        lines.append(data_extra.rstrip("\n"))
    if champion is not None:
        lines.append(f"champion: {json.dumps(str(champion))}")
    lines += ["confidence: 0.95", "seed: 0", f"n_resamples: {n_resamples}"]
    if extra:
        lines.append(extra.rstrip("\n"))
    return "\n".join(lines) + "\nchecks:\n" + checks


def write_suite(project: Path, text: str, name: str = "adult.yaml",
                folder: str = "suites") -> Path:
    path = project / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def project_ini(project: Path, text: str = "[pytest]\n") -> None:
    """Pin a pytester project's rootdir (pytester does not write an ini by itself)."""
    (project / "pytest.ini").write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- ONNX models


def _save(model: onnx.ModelProto, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _const(name: str, values: Sequence[float] | float, shape: Sequence[int],
           dtype: int = TensorProto.FLOAT) -> onnx.TensorProto:
    flat = list(np.asarray(values, dtype=np.float64).reshape(-1))
    return helper.make_tensor(name, dtype, list(shape), flat)


def _out(name: str, dtype: int, shape: Sequence[int | None]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, list(shape))


def _candidate() -> onnx.ModelProto:
    """The shipped candidate without its ZipMap: outputs ``output_label`` (strings) and the
    tree's ``probabilities`` tensor renamed ``p_raw`` (not a graph output)."""
    model = onnx.load(CANDIDATE)
    g = model.graph
    zipmap = next(n for n in g.node if n.op_type == "ZipMap")
    g.node.remove(zipmap)
    for o in list(g.output):
        if o.name == "output_probability":
            g.output.remove(o)
    tree = next(n for n in g.node if n.op_type == "TreeEnsembleClassifier")
    tree.output[1] = "p_raw"
    return model


def _tree(model: onnx.ModelProto) -> onnx.NodeProto:
    return next(n for n in model.graph.node if n.op_type == "TreeEnsembleClassifier")


def _set_classes(model: onnx.ModelProto, classes: Sequence[int | str]) -> None:
    """Retrain-free relabelling: the tree's class labels become ``classes``."""
    tree = _tree(model)
    for attr in list(tree.attribute):
        if attr.name in ("classlabels_strings", "classlabels_int64s"):
            tree.attribute.remove(attr)
    if all(isinstance(c, int) for c in classes):
        tree.attribute.append(helper.make_attribute("classlabels_int64s", list(classes)))
        label_type = TensorProto.INT64
    else:
        tree.attribute.append(helper.make_attribute("classlabels_strings",
                                                    [str(c).encode() for c in classes]))
        label_type = TensorProto.STRING
    for o in model.graph.output:
        if o.name == "output_label":
            o.type.tensor_type.elem_type = label_type


def candidate_variant(path: Path, *, classes: Sequence[int | str] | None = None,
                      outputs: Sequence[tuple[str, str]] = (("probabilities", "p"),),
                      label: bool = True, drop_last_row: bool = False) -> Path:
    """The shipped candidate with its probabilities post-processed.

    ``outputs`` is a list of ``(output name, expression)``; an expression is one of ``p``,
    ``p*K``, ``p+K``, ``p-K``, ``p*cols``, ``p*nan``, ``p+inf`` (K a float).
    ``label=False`` drops the label output; ``classes`` relabels the tree.
    """
    model = _candidate()
    g = model.graph
    if classes is not None:
        _set_classes(model, classes)
    source = "p_raw"
    if drop_last_row:
        g.initializer.extend([helper.make_tensor("s0", TensorProto.INT64, [1], [0]),
                              helper.make_tensor("s1", TensorProto.INT64, [1], [-1]),
                              helper.make_tensor("ax", TensorProto.INT64, [1], [0])])
        g.node.append(helper.make_node("Slice", ["p_raw", "s0", "s1", "ax"], ["p_cut"]))
        label_node = next(n for n in g.node if n.op_type == "Identity"
                          and n.output[0] == "output_label")
        label_node.output[0] = "label_full"
        g.node.append(helper.make_node("Slice", ["label_full", "s0", "s1", "ax"],
                                       ["output_label"]))
        source = "p_cut"
    if not label:
        for o in list(g.output):
            if o.name == "output_label":
                g.output.remove(o)
    for i, (name, expr) in enumerate(outputs):
        op, const = _expression(expr, i)
        if op is None:
            g.node.append(helper.make_node("Identity", [source], [name]))
        else:
            g.initializer.append(const)
            g.node.append(helper.make_node(op, [source, const.name], [name]))
        g.output.append(_out(name, TensorProto.FLOAT, [None, 2]))
    return _save(model, path)


def _expression(expr: str, i: int) -> tuple[str | None, onnx.TensorProto | None]:
    name = f"k{i}"
    if expr == "p":
        return None, None
    if expr == "p*cols":
        return "Mul", _const(name, [1.0, 0.6], [1, 2])
    if expr == "p*nan":
        return "Mul", _const(name, [np.nan], [1])
    if expr == "p+inf":
        return "Add", _const(name, [np.inf], [1])
    for symbol, op in (("*", "Mul"), ("+", "Add"), ("-", "Sub")):
        if expr.startswith("p" + symbol):
            return op, _const(name, [float(expr[2:])], [1])
    raise ValueError(f"unknown expression {expr!r}")


def _graph_model(nodes: list, inputs: list, outputs: list, initializers: list,
                 props: dict[str, str] | None = None) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "corpus", inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if props:
        helper.set_model_props(model, props)
    return model


def age_classifier(path: Path, *, input_type: int = TensorProto.FLOAT,
                   classes: Sequence[Any] = ("<=50K", ">50K"), slope: float = 0.06,
                   variant: str = "") -> Path:
    """A binary classifier on ``age`` alone (roc_auc ≈ 0.7 on Adult): label + probabilities,
    classes in metadata. ``input_type=INT64`` makes ``age`` an int64 input."""
    nodes = []
    age = "age"
    if input_type != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", ["age"], ["age_f"], to=TensorProto.FLOAT))
        age = "age_f"
    nodes += [
        helper.make_node("Sub", [age, "centre"], ["d"]),
        helper.make_node("Mul", ["d", "slope"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p1"]),
        helper.make_node("Sub", ["one", "p1"], ["p0"]),
        helper.make_node("Concat", ["p0", "p1"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    inits = [_const("centre", [44.0], [1]), _const("slope", [slope], [1]),
             _const("one", [1.0], [1])]
    props = {"classes": json.dumps(list(classes))}
    if variant:
        props["variant"] = variant
    model = _graph_model(nodes, [helper.make_tensor_value_info("age", input_type, [None, 1])],
                         [_out("label", TensorProto.INT64, [None]),
                          _out("probabilities", TensorProto.FLOAT, [None, 2])], inits, props)
    return _save(model, path)


def label_only(path: Path, labels: Sequence[Any] = (0, 1)) -> Path:
    """A model with one label output and no class metadata: ``labels[1]`` for age ≥ 60, else
    ``labels[0]`` (ints give an int64 output, strings a string output)."""
    strings = isinstance(labels[0], str)
    nodes = [helper.make_node("Greater", ["age", "sixty"], ["old"]),
             helper.make_node("Cast", ["old"], ["idx"], to=TensorProto.INT64),
             helper.make_node("Gather", ["values", "idx"], ["g"], axis=0),
             helper.make_node("Squeeze", ["g", "ax1"], ["label"])]
    values = (helper.make_tensor("values", TensorProto.STRING, [2],
                                 [str(v).encode() for v in labels]) if strings else
              helper.make_tensor("values", TensorProto.INT64, [2], [int(v) for v in labels]))
    inits = [_const("sixty", [60.0], [1]), values,
             helper.make_tensor("ax1", TensorProto.INT64, [1], [1])]
    model = _graph_model(nodes, [helper.make_tensor_value_info("age", TensorProto.FLOAT,
                                                               [None, 1])],
                         [_out("label", TensorProto.STRING if strings else TensorProto.INT64,
                               [None])], inits)
    return _save(model, path)


def age_regressor(path: Path, *, slope: float = 0.1, intercept: float = 36.0,
                  huge: bool = False, dtype: int = TensorProto.FLOAT) -> Path:
    """A regressor on ``age``: ``slope·age + intercept`` (one float output, no label).
    ``huge=True`` outputs ±1e308 (double): +1e308 for age ≥ 40, else -1e308."""
    if huge:
        nodes = [helper.make_node("Cast", ["age"], ["a64"], to=TensorProto.DOUBLE),
                 helper.make_node("Sub", ["a64", "c40"], ["d"]),
                 helper.make_node("Sign", ["d"], ["s"]),
                 helper.make_node("Mul", ["s", "big"], ["variable"])]
        inits = [_const("c40", [39.5], [1], TensorProto.DOUBLE),
                 _const("big", [1e308], [1], TensorProto.DOUBLE)]
        out_type = TensorProto.DOUBLE
    else:
        nodes = [helper.make_node("Mul", ["age", "slope"], ["m"]),
                 helper.make_node("Add", ["m", "icpt"], ["variable"])]
        inits = [_const("slope", [slope], [1], dtype), _const("icpt", [intercept], [1], dtype)]
        out_type = dtype
    model = _graph_model(nodes, [helper.make_tensor_value_info("age", TensorProto.FLOAT,
                                                               [None, 1])]
                         if huge or dtype == TensorProto.FLOAT else
                         [helper.make_tensor_value_info("age", dtype, [None, 1])],
                         [_out("variable", out_type, [None, 1])], inits)
    return _save(model, path)


def age_multiclass(path: Path, *, classes: Sequence[Any] = (0, 1, 2), variant: str = "") -> Path:
    """A three-class classifier on ``age`` (young / middle / old): softmax probabilities and
    an argmax label, classes in metadata."""
    nodes = [helper.make_node("Mul", ["age", "w"], ["zw"]),
             helper.make_node("Add", ["zw", "b"], ["z"]),
             helper.make_node("Softmax", ["z"], ["probabilities"], axis=1),
             helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0)]
    # logits: class 0 wins below 30, class 2 above 50, class 1 in between
    inits = [_const("w", [-1.0, 0.0, 1.0], [1, 3]), _const("b", [30.0, 0.0, -50.0], [1, 3])]
    props = {"classes": json.dumps(list(classes))}
    if variant:
        props["variant"] = variant
    model = _graph_model(nodes, [helper.make_tensor_value_info("age", TensorProto.FLOAT,
                                                               [None, 1])],
                         [_out("label", TensorProto.INT64, [None]),
                          _out("probabilities", TensorProto.FLOAT, [None, 3])], inits, props)
    return _save(model, path)


def multiclass_frame(rows: int = 1500) -> pd.DataFrame:
    """Adult rows with ``grade`` = ``class_0``/``class_1``/``class_2`` by age, the labels the
    multiclass model above predicts (as codes 0/1/2) on almost every row."""
    frame = adult(rows)
    age = frame["age"].to_numpy()
    code = np.select([age < 30, age <= 50], [0, 1], 2)
    frame["grade"] = [f"class_{c}" for c in code]
    return frame.drop(columns=["income"])


def variant_bytes(src: Path, dst: Path, tag: str) -> Path:
    """``src`` with a metadata tag: the same predictions, other bytes (another sha256)."""
    model = onnx.load(src)
    helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props},
                                   "corpus-variant": tag})
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, dst)
    return dst


# --------------------------------------------------------------------------- FIFOs


@dataclass
class FifoWatch:
    """Watches a FIFO: when a reader opens it (which, without a writer, hangs forever), the
    watcher notes it, runs ``on_open`` and then opens and closes the write end, so the reader
    sees end-of-file and the test goes on instead of hanging."""

    path: Path
    on_open: Callable[[], None] | None = None
    opened: bool = False
    seen: list[Any] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        os.mkfifo(self.path)
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: nobody reads it (yet)
                time.sleep(0.05)
                continue
            self.opened = True
            if self.on_open is not None:
                try:
                    self.on_open()
                except Exception as exc:
                    self.seen.append(exc)
            os.close(fd)
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
