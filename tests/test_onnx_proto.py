"""evalgate parses ONNX files with onnx's own generated protobuf module loaded by its path
(evalgate.models.onnx_proto), not through ``import onnx``: what it reads and the model it
rewrites without a ZipMap must be what ``onnx`` itself reads and writes — on the shipped
models, on every kind of model the test zoo converts, and on hand-made graphs for the rarer
encodings — and a model loaded in a fresh process must not import ``onnx``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnx.helper as oh
import onnx.numpy_helper
import pytest
from onnx import TensorProto

from evalgate.errors import ModelLoadError
from evalgate.models import load_model, onnx_proto
from evalgate.models.onnx import OnnxModel, _graph_classes, _strip_zipmap
from tests.modelzoo import Zoo

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = [ROOT / "examples/models/candidate.onnx", ROOT / "examples/models/champion.onnx"]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    return Zoo(tmp_path_factory.mktemp("zoo"))


def _zoo_models(zoo: Zoo) -> list[Path]:
    return [zoo.onnx("logreg", "income"), zoo.onnx("logreg", "income", zipmap=False),
            zoo.onnx("forest", "label"), zoo.onnx("mlp", "grade"),
            zoo.onnx("mlp", "grade", zipmap=False), zoo.onnx("linear", "price"),
            zoo.onnx("gbr", "price")]


def _onnx_strip(raw: bytes) -> onnx.ModelProto:
    """What evalgate wrote with ``onnx`` before it loaded the messages itself."""
    model = onnx.load_model_from_string(raw)
    graph = model.graph
    node = next(n for n in graph.node if n.op_type == "ZipMap")
    graph.node.remove(node)
    kept = [o for o in graph.output if o.name != node.output[0]]
    del graph.output[:]
    graph.output.extend(kept)
    if node.input[0] not in {o.name for o in graph.output}:
        graph.output.append(oh.make_tensor_value_info(node.input[0], TensorProto.FLOAT, None))
    return model


def test_a_parsed_model_is_onnxs_and_so_is_the_cut_one(zoo: Zoo) -> None:
    stripped = 0
    for path in [*SHIPPED, *_zoo_models(zoo)]:
        raw = path.read_bytes()
        ours = onnx_proto.parse(raw)
        assert ours.SerializeToString() == onnx.load_model_from_string(raw).SerializeToString()
        cut, classes, fed = _strip_zipmap(ours)
        if cut is None:
            continue
        assert onnx.load_model_from_string(cut) == _onnx_strip(raw), path.name
        assert classes and fed
        stripped += 1
    assert stripped >= 4


def _model(nodes: list[onnx.NodeProto], outputs: list[onnx.ValueInfoProto],
           initializers: list[onnx.TensorProto] = (), **meta: str) -> bytes:
    graph = oh.make_graph(nodes, "g", [oh.make_tensor_value_info("X", TensorProto.FLOAT,
                                                                  [None, 2])],
                          outputs, initializer=list(initializers))
    model = oh.make_model(graph, producer_name="hand", producer_version="1.0",
                          opset_imports=[oh.make_opsetid("", 17), oh.make_opsetid("ai.onnx.ml",
                                                                                 3)])
    oh.set_model_props(model, meta)
    return model.SerializeToString()


@pytest.mark.parametrize("classes", [
    np.array([b"no", b"yes"], dtype=object), np.array([-1, 7], dtype=np.int64),
    np.array([3, -4], dtype=np.int32), np.array([0.5, 1.5], dtype=np.float32),
    np.array([0.25, -2.0], dtype=np.float64)])
@pytest.mark.parametrize("raw_data", [True, False])
def test_a_classes_initializer_of_each_type(classes: np.ndarray, raw_data: bool) -> None:
    """skl2onnx's "classes" initializer read as onnx.numpy_helper reads it, from raw bytes or
    from the typed fields."""
    tensor = (onnx.numpy_helper.from_array(classes, name="classes") if raw_data else
              oh.make_tensor("classes", onnx.helper.np_dtype_to_tensor_dtype(classes.dtype)
                             if classes.dtype != object else TensorProto.STRING, [2],
                             classes.tolist()))
    raw = _model([oh.make_node("Identity", ["X"], ["Y"])],
                 [oh.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])], [tensor])
    arr = onnx.numpy_helper.to_array(onnx.load_model_from_string(raw).graph.initializer[0])
    want = tuple(v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item")
                 else v for v in arr.reshape(-1))
    assert _graph_classes(onnx_proto.parse(raw)) == want


@pytest.mark.parametrize("cut", [1, 10, 100, 1000])
def test_a_truncated_file_is_no_model(tmp_path: Path, cut: int) -> None:
    raw = SHIPPED[0].read_bytes()
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(raw[:len(raw) - cut])
    with pytest.raises(ModelLoadError, match="not a valid ONNX file"):
        load_model(bad)


@pytest.mark.parametrize("payload", [b"\x00\x01\x02", b"\x0b\x10", b"\xff" * 12,
                                     b"not an onnx file at all\n", b"\x3a\x05ab"])
def test_garbage_is_no_model(tmp_path: Path, payload: bytes) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(payload)
    with pytest.raises(ModelLoadError, match="not a valid ONNX file"):
        OnnxModel.load(bad)


def test_protobufs_rules_hold_where_a_hand_reader_would_slip() -> None:
    """A field written twice: the last value of a singular field wins, as onnxruntime reads
    it — an attribute's name repeated to hide the class labels, or a second ZipMap label list,
    is read as onnxruntime (and onnx) reads it."""
    node = oh.make_node("ZipMap", ["X"], ["Z"], domain="ai.onnx.ml",
                        classlabels_strings=["a", "b"])
    raw = _model([node], [oh.make_value_info("Z", oh.make_sequence_type_proto(
        oh.make_map_type_proto(TensorProto.STRING, oh.make_tensor_type_proto(
            TensorProto.FLOAT, []))))])
    model = onnx.load_model_from_string(raw)
    attr = model.graph.node[0].attribute[0]
    # prepend a decoy name: protobuf keeps the last one ("classlabels_strings")
    decoy = b"\x0a\x05decoy" + attr.SerializeToString()
    attr.Clear()
    attr.MergeFromString(decoy)
    assert attr.name == "classlabels_strings"
    _, classes, fed = _strip_zipmap(onnx_proto.parse(model.SerializeToString()))
    assert classes == ("a", "b") and fed == "X"


def test_loading_a_model_does_not_import_onnx_and_onnx_imports_after() -> None:
    code = ("import sys; from evalgate.models import load_model; "
            f"m = load_model({str(SHIPPED[0])!r}); "
            "print(m.info.signature['classes'], 'onnx' in sys.modules); "
            "import onnx; "
            f"print(onnx.load({str(SHIPPED[0])!r}).graph.node[-1].op_type)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.split()
    assert out[0].startswith("[") and out[-2] == "False" and out[-1] == "ZipMap"


def test_without_onnx_installed_a_model_is_refused_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """onnx is a dependency; an install without it refuses the model with a clear line."""
    import importlib.util

    monkeypatch.delitem(sys.modules, "onnx.onnx_ml_pb2", raising=False)
    monkeypatch.delitem(sys.modules, onnx_proto._PRIVATE, raising=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnx" else real(name, *a))
    with pytest.raises(ModelLoadError, match="cannot read ONNX files here: the onnx package"):
        OnnxModel.load(SHIPPED[0])
