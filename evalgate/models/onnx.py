"""ONNX models through onnxruntime.

Inputs: either one input per data column (as skl2onnx writes them), matched **by name** —
exactly, else after normalising both names (lower case, runs of non-alphanumerics → ``_``),
which absorbs skl2onnx's renaming of ``hours-per-week`` to ``hours_per_week`` — or a single
2-D tensor fed the suite's features **by position**. Which of the two was used, and the
mapping, is recorded in the verdict.

Integer inputs (``tensor(int64)``, ``int32``, …) are fed only whole numbers: a fractional
value, or one outside the type's range, is an error naming the column and the first row,
never a silent truncation.

Outputs: a label tensor plus probabilities as a tensor or as skl2onnx's ZipMap. A ZipMap
(a Python dict per row) is slow to build, so it is cut off at load time and the probability
tensor feeding it is read instead; its class labels come from the ZipMap's attributes.

Which output is read, the rule (the same at every load, recorded nowhere else):

- **probabilities / values** (float or double tensors): the output whose name, normalised as
  above, is the first of :data:`PROBA_NAMES` (``probabilities``, ``output_probability``,
  ``probability``, ``proba``, ``probas``, ``probs``); else the tensor that fed the ZipMap;
  else the only float output. Two or more float outputs with none of these is a
  :class:`~evalgate.errors.ModelLoadError` naming them — never the first one by chance;
- **labels** (int64, int32 or string tensors): the first of :data:`LABEL_NAMES` (``label``,
  ``output_label``, ``labels``, ``predicted_label``), else the only such output; two or
  more with none of these names is a ``ModelLoadError`` naming them.

A model is a classifier when it has a label output, a classifier operator, a ZipMap or
declared classes (``metadata_props`` ``classes``); a classifier's single float column is
read as the probability of its second class. Whether the probabilities are probabilities
(in [0, 1], rows summing to 1) is checked for every format in :mod:`evalgate.models.predictions`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelLoadError, ModelOutputError
from . import onnx_proto
from ._calls import run_onnx
from .base import ModelInfo, RawPrediction, file_info
from .text import shared_text

_CLASSIFIER_OPS = ("LinearClassifier", "TreeEnsembleClassifier", "SVMClassifier")
_CHUNK = 1 << 18
#: float outputs read as probabilities first, by normalised name, in this order
PROBA_NAMES = ("probabilities", "output_probability", "probability", "proba", "probas",
               "probs")
#: label outputs read first, by normalised name, in this order
LABEL_NAMES = ("label", "output_label", "labels", "predicted_label")
_FLOAT_TYPES = ("tensor(float)", "tensor(double)")
_LABEL_TYPES = ("tensor(int64)", "tensor(int32)", "tensor(string)")


def normalise_name(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


@dataclass(frozen=True)
class _Input:
    name: str
    type: str  # onnxruntime's spelling: "tensor(float)", ...
    rank: int
    width: int | None  # the second dimension when fixed


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def choose_output(path: str, what: str, names: Sequence[str], preferred: Sequence[str],
                  fed_zipmap: str | None = None) -> str | None:
    """The output to read among ``names`` (see the module's rule), or ``None`` if none.

    ``preferred`` names first (normalised, in order), then ``fed_zipmap``, then the only
    one; several with no rule to choose raise :class:`ModelLoadError` naming them."""
    if not names:
        return None
    for wanted in preferred:
        hits = [n for n in names if normalise_name(n) == wanted]
        if len(hits) > 1:
            raise ModelLoadError(path, f"the model has {len(hits)} {what} outputs named like "
                                       f"{wanted!r} ({', '.join(hits)}); evalgate cannot tell "
                                       f"which to read")
        if hits:
            return hits[0]
    if fed_zipmap is not None and fed_zipmap in names:
        return fed_zipmap
    if len(names) == 1:
        return names[0]
    raise ModelLoadError(path, f"the model has {len(names)} {what} outputs "
                               f"({', '.join(names)}) and no rule picks one: none is named "
                               f"{' or '.join(preferred[:4])}"
                               f"{' and none feeds a ZipMap' if what == 'float' else ''}; "
                               f"rename the output evalgate should read (e.g. to "
                               f"{preferred[0]!r}) or remove the others from the graph")


def _strip_zipmap(model: Any) -> tuple[bytes | None, tuple[Any, ...] | None, str | None]:
    """Remove a final ZipMap node from ``model`` (a ``ModelProto``, changed in place); return
    the model's new bytes (``None``: nothing cut), the ZipMap's class labels and the name of
    the probability tensor that fed it."""
    graph = model.graph
    outputs = {o.name for o in graph.output}
    zipmaps = [n for n in graph.node if n.op_type == "ZipMap" and n.output[0] in outputs]
    if not zipmaps:
        return None, None, None
    node = zipmaps[0]
    classes: tuple[Any, ...] = ()
    for attr in node.attribute:
        if attr.name == "classlabels_strings":
            classes = tuple(s.decode("utf-8") for s in attr.strings)
        elif attr.name == "classlabels_int64s":
            classes = tuple(int(i) for i in attr.ints)
    graph.node.remove(node)
    kept = [o for o in graph.output if o.name != node.output[0]]
    del graph.output[:]
    graph.output.extend(kept)
    if node.input[0] not in {o.name for o in graph.output}:
        graph.output.append(onnx_proto.float_output(node.input[0]))
    return model.SerializeToString(), classes, node.input[0]


def _graph_classes(model: Any) -> tuple[Any, ...] | None:
    for node in model.graph.node:
        if node.op_type in _CLASSIFIER_OPS:
            for attr in node.attribute:
                if attr.name == "classlabels_strings" and attr.strings:
                    return tuple(s.decode("utf-8") for s in attr.strings)
                if attr.name in ("classlabels_int64s", "classlabels_ints") and attr.ints:
                    return tuple(int(i) for i in attr.ints)
    for prop in model.metadata_props:
        if prop.key == "classes":
            try:
                value = json.loads(prop.value)
            except ValueError:
                continue
            if isinstance(value, list):
                return tuple(value)
    # skl2onnx's converters without a classifier operator (MLP, ...) keep the labels in an
    # initializer named "classes" that maps the argmax to a label
    for init in model.graph.initializer:
        if init.name == "classes":
            return tuple(onnx_proto.tensor_values(init))
    return None


def _session(path: str | Path, payload: bytes, threads: int | None) -> Any:
    """An onnxruntime session of ``payload`` (``threads`` intra-op threads, default all)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(payload, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelLoadError(path, f"onnxruntime cannot load the model: "
                                   f"{_first_line(exc)}") from None


class OnnxModel:
    """An ONNX model in an onnxruntime session."""

    def __init__(self, info: ModelInfo, session: Any, classes: tuple[Any, ...] | None,
                 is_classifier: bool, fed_zipmap: str | None = None):
        self.info, self._session, self._classes = info, session, classes
        self.is_classifier = is_classifier
        self.chunk_rows = _CHUNK  # rows per onnxruntime run (the memory check: the whole batch)
        self.inputs = [
            _Input(i.name, i.type, len(i.shape) if i.shape is not None else 1,
                   i.shape[1] if i.shape is not None and len(i.shape) > 1
                   and isinstance(i.shape[1], int) else None)
            for i in session.get_inputs()]
        outs = session.get_outputs()
        self._label_out = choose_output(info.path, "label",
                                        [o.name for o in outs if o.type in _LABEL_TYPES],
                                        LABEL_NAMES)
        floats = [o.name for o in outs if o.type in _FLOAT_TYPES]
        if not floats and not self._label_out:
            raise ModelLoadError(info.path, "the model has no tensor output evalgate can read "
                                 f"(outputs: {', '.join(f'{o.name} {o.type}' for o in outs)})")
        self._float_out = choose_output(info.path, "float", floats, PROBA_NAMES, fed_zipmap)
        if self._label_out is not None:
            self.is_classifier = True
        self._bindings: dict[tuple[str, ...], tuple[str, dict[str, str]]] = {}
        self._last: tuple[str, dict[str, str]] = ("by-name", {})
        #: the bytes the session was made from (the ZipMap cut off), for other sessions
        self._payload = b""
        #: sessions pinned to a number of threads, by that number (shared by the twins)
        self._threaded: dict[int, OnnxModel] = {}

    @classmethod
    def load(cls, path: Path) -> OnnxModel:
        """Load ``path`` into a session with onnxruntime's default threads (all cores)."""
        raw, info = file_info(path, "onnx")
        try:
            from google.protobuf.message import DecodeError

            onnx_proto.messages()
        except ImportError as exc:  # a broken install: one line, the gate blocks
            raise ModelLoadError(path, f"cannot read ONNX files here: {exc}") from None
        try:
            model = onnx_proto.parse(raw)
        except DecodeError as exc:
            raise ModelLoadError(path, f"not a valid ONNX file (truncated or another format?): "
                                       f"{_first_line(exc)}") from None
        if not model.graph.node or not model.graph.output:
            raise ModelLoadError(path, "not a valid ONNX file (truncated or another format?): "
                                       "it holds no graph")
        cut, zip_classes, fed_zipmap = _strip_zipmap(model)
        classes = zip_classes or _graph_classes(model)
        payload = raw if cut is None else cut
        session = _session(path, payload, None)
        is_classifier = classes is not None or any(
            n.op_type in _CLASSIFIER_OPS for n in model.graph.node)
        loaded = cls(info, session, classes, is_classifier, fed_zipmap)
        loaded._payload = payload
        loaded.info = dataclasses.replace(info, signature=loaded._signature(model))
        return loaded

    def _signature(self, model: Any) -> dict[str, Any]:
        """Inputs and outputs as onnxruntime reads them (name, type, shape; a symbolic or
        free dimension is ``None``), the outputs the gate reads, the classes, and who wrote
        the file (producer, opsets)."""

        def tensors(items: Any) -> list[dict[str, Any]]:
            return [{"name": t.name, "type": t.type,
                     "shape": [d if isinstance(d, int) else None for d in (t.shape or [])]}
                    for t in items]

        return {"inputs": tensors(self._session.get_inputs()),
                "outputs": tensors(self._session.get_outputs()),
                "reads": {"label": self._label_out, "scores": self._float_out},
                "classes": None if self._classes is None else [str(c) for c in self._classes],
                "producer": f"{model.producer_name} {model.producer_version}".strip() or None,
                "opsets": {o.domain or "ai.onnx": int(o.version) for o in model.opset_import}}

    def with_threads(self, threads: int) -> OnnxModel:
        """This model in a session pinned to ``threads`` intra-op threads (one inter-op
        thread), opened once per thread count and shared by every check that times it."""
        if threads not in self._threaded:
            twin = copy.copy(self)
            twin._session = _session(self.info.path, self._payload, threads)
            twin._bindings = {}
            twin._threaded = self._threaded
            self._threaded[threads] = twin
        return self._threaded[threads]

    # ----------------------------------------------------------------- inputs

    def _bind(self, features: Sequence[str]) -> tuple[str, dict[str, str]]:
        """Map each model input to a data column (by name, or by position for one 2-D input)."""
        key = tuple(features)
        if key not in self._bindings:
            self._bindings[key] = self._match(features)
        self._last = self._bindings[key]
        return self._last

    def _match(self, features: Sequence[str]) -> tuple[str, dict[str, str]]:
        names = [i.name for i in self.inputs]
        if len(self.inputs) == 1 and self.inputs[0].name not in features and (
                self.inputs[0].width is None or self.inputs[0].width > 1) and not any(
                normalise_name(self.inputs[0].name) == normalise_name(f) for f in features):
            inp = self.inputs[0]
            if inp.width is not None and inp.width != len(features):
                raise ModelOutputError(self.info.path,
                    f"the model takes one tensor {inp.name!r} of {inp.width} columns, but the "
                    f"suite gives {len(features)} features ({', '.join(features)}); list the "
                    f"model's columns in order under data.features")
            return "by-position", {inp.name: ",".join(features)}
        by_norm: dict[str, list[str]] = {}
        for f in features:
            by_norm.setdefault(normalise_name(f), []).append(f)
        mapping, unmatched = {}, []
        for name in names:
            if name in features:
                mapping[name] = name
                continue
            found = by_norm.get(normalise_name(name), [])
            if len(found) == 1:
                mapping[name] = found[0]
            elif len(found) > 1:
                raise ModelOutputError(self.info.path,
                    f"model input {name!r} matches several data columns ({', '.join(found)})")
            else:
                unmatched.append(name)
        if unmatched:
            raise ModelOutputError(self.info.path,
                f"model inputs do not match the data: no column for "
                f"{', '.join(repr(u) for u in unmatched)}. Model inputs: {', '.join(names)}. "
                f"Data feature columns: {', '.join(features)}")
        return "by-name", mapping

    def _feed(self, frame: pd.DataFrame, features: Sequence[str]) -> dict[str, np.ndarray]:
        mode, mapping = self._bind(features)
        if mode == "by-position":
            inp = self.inputs[0]
            block = frame[list(features)]
            non_numeric = [c for c in block.columns if not _is_numeric(block[c])]
            if non_numeric:
                raise ModelOutputError(self.info.path,
                    f"input {inp.name!r} is one numeric tensor, but columns "
                    f"{', '.join(non_numeric)} are not numeric")
            dtype = _NUMPY.get(inp.type, np.dtype(np.float32))
            for c in block.columns:
                if np.issubdtype(dtype, np.integer):
                    self._whole(block[c], inp, dtype)
                elif dtype.kind == "f":
                    self._in_range(block[c], inp, dtype)
            return {inp.name: block.to_numpy(dtype=dtype)}
        return {inp.name: self._column(frame, mapping[inp.name], inp) for inp in self.inputs}

    def _column(self, frame: pd.DataFrame, name: str, inp: _Input) -> np.ndarray:
        col = frame[name]
        if inp.type == "tensor(string)":
            arr = shared_text(frame, name)
        else:
            dtype = _NUMPY.get(inp.type)
            if dtype is None:
                raise ModelOutputError(self.info.path,
                    f"model input {inp.name!r} has type {inp.type}, which evalgate cannot feed")
            if not _is_numeric(col):
                raise ModelOutputError(self.info.path,
                    f"column {col.name!r} holds {col.dtype} values, but model input "
                    f"{inp.name!r} expects {inp.type}")
            if np.issubdtype(dtype, np.integer) and col.isna().any():
                raise ModelOutputError(self.info.path,
                    f"column {col.name!r} has missing values, but model input {inp.name!r} "
                    f"is {inp.type}, which cannot hold them")
            if np.issubdtype(dtype, np.integer):
                self._whole(col, inp, dtype)
            elif dtype.kind == "f":
                self._in_range(col, inp, dtype)
            arr = col.to_numpy(dtype=dtype, na_value=np.nan if dtype.kind == "f" else None)
        out: np.ndarray = arr.reshape(-1, 1) if inp.rank >= 2 else arr
        return out

    def _whole(self, col: pd.Series, inp: _Input, dtype: np.dtype) -> None:
        """An integer input takes whole numbers within its range; anything else would be
        truncated or wrapped silently by the cast."""
        limits = np.iinfo(dtype)
        if pd.api.types.is_bool_dtype(col):
            return
        if pd.api.types.is_integer_dtype(col):
            ints = col.to_numpy()
            if ints.size == 0 or (limits.min <= ints.min() and ints.max() <= limits.max):
                return
            values = ints.astype(np.float64)
        else:
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(values) | (np.mod(values, 1) != 0) | (values < limits.min) | (
                values > limits.max)
        self._refuse_rows(col, values, bad, (
            f"but model input {inp.name!r} is {inp.type}, which takes whole numbers only; "
            f"evalgate does not truncate them: round the column in the data or give the model "
            f"a float input"))

    def _in_range(self, col: pd.Series, inp: _Input, dtype: np.dtype) -> None:
        """A float32 (float16) input takes values within its range; beyond it the cast makes
        them ±inf, and the model would be blamed for the NaN or infinite predictions."""
        top = float(np.finfo(dtype).max)
        if top >= float(np.finfo(np.float64).max) or pd.api.types.is_bool_dtype(col):
            return
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad = np.isfinite(values) & (np.abs(values) > top)
        self._refuse_rows(col, values, bad, (
            f"beyond the range of model input {inp.name!r} ({inp.type}, at most ±{top:.4g}): "
            f"fed to the model it would become infinite; rescale the column or give the model "
            f"a double input"))

    def _refuse_rows(self, col: pd.Series, values: np.ndarray, bad: np.ndarray,
                     why: str) -> None:
        """:class:`ModelOutputError` naming the column, its first ``bad`` row and how many."""
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ModelOutputError(self.info.path,
                f"column {col.name!r} holds {float(values[first]):g} at data row {first + 1} "
                f"({int(bad.sum())} such rows), {why}")

    # ----------------------------------------------------------------- predict

    def predict(self, frame: pd.DataFrame, features: Sequence[str]) -> RawPrediction:
        results = self._run(self._feed(frame, features), len(frame))
        floats = results.get(self._float_out) if self._float_out else None
        if not self.is_classifier:
            values = np.asarray(floats, dtype=np.float64)
            if values.ndim == 2 and values.shape[1] != 1:
                raise ModelOutputError(self.info.path, f"a regression output must have one "
                                                       f"column, got {values.shape[1]}")
            return RawPrediction(values=values.reshape(-1))
        labels = results.get(self._label_out) if self._label_out else None
        if labels is not None:
            labels = labels.reshape(-1)
            if labels.dtype.kind in "SO":
                labels = labels.astype(str)
        if floats is None:
            return RawPrediction(labels=labels, proba=None, classes=self._classes)
        proba, classes = self._probabilities(floats)
        return RawPrediction(labels=labels, proba=proba, classes=classes)

    def _run(self, feed: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
        """The label and float outputs for ``n`` rows, run ``chunk_rows`` at a time."""
        names = [name for name in (self._label_out, self._float_out) if name is not None]
        parts: list[list[np.ndarray]] = [[] for _ in names]
        step = self.chunk_rows
        for start in range(0, max(n, 1), step):
            chunk = {k: v[start:start + step] for k, v in feed.items()}
            try:
                outs = run_onnx(self._session, names, chunk, self.info.path)
            except ModelOutputError:  # the time limit: already one clear message
                raise
            except Exception as exc:
                raise ModelOutputError(self.info.path, f"onnxruntime failed to predict: "
                                                       f"{_first_line(exc)}") from None
            for acc, out in zip(parts, outs):
                acc.append(np.asarray(out))
        return dict(zip(names, (np.concatenate(p) if p else np.empty(0) for p in parts)))

    def _probabilities(self, floats: np.ndarray) -> tuple[np.ndarray, tuple[Any, ...]]:
        """A classifier's float output as an (n, k) table and the class of each column (a
        single column is P(second class))."""
        proba = np.asarray(floats, dtype=np.float64)
        if proba.ndim == 1:
            proba = proba.reshape(-1, 1)
        if proba.shape[1] == 1:
            proba = np.hstack([1 - proba, proba])
        classes = self._classes
        if classes is None:
            if self._label_out is not None:
                raise ModelOutputError(self.info.path,
                    "cannot tell which probability column belongs to which class: the model "
                    "has no ZipMap, no classifier operator and no 'classes' metadata; export "
                    "it with ZipMap, or add metadata_props classes = a JSON list of labels")
            classes = tuple(range(proba.shape[1]))
        if len(classes) != proba.shape[1]:
            raise ModelOutputError(self.info.path,
                f"the model gives {proba.shape[1]} probability columns for "
                f"{len(classes)} classes {classes}")
        return proba, classes

    def describe_inputs(self) -> dict[str, Any]:
        mode, mapping = self._last
        return {"mode": mode, "mapping": dict(mapping)}


_NUMPY: dict[str, Any] = {
    "tensor(float)": np.dtype(np.float32), "tensor(double)": np.dtype(np.float64),
    "tensor(int64)": np.dtype(np.int64), "tensor(int32)": np.dtype(np.int32),
    "tensor(bool)": np.dtype(np.bool_), "tensor(float16)": np.dtype(np.float16),
}


def _is_numeric(col: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col))
