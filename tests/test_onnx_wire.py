"""evalgate reads ONNX files with its own protobuf reader (evalgate.models.onnx_wire), not the
``onnx`` package: every field it reads, and the model it rewrites without a ZipMap, must be
what ``onnx`` itself reads and writes — checked here on the shipped models and on every kind
of model the test zoo converts, and on hand-made graphs for the rarer encodings."""

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
from evalgate.models import load_model, onnx_wire
from evalgate.models.onnx import OnnxModel
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


def _same_reading(raw: bytes) -> None:
    ours, theirs = onnx_wire.parse(raw), onnx.load_model_from_string(raw)
    g = theirs.graph
    assert [n.op_type for n in ours.nodes] == [n.op_type for n in g.node]
    assert [n.inputs for n in ours.nodes] == [list(n.input) for n in g.node]
    assert [n.outputs for n in ours.nodes] == [list(n.output) for n in g.node]
    for mine, node in zip(ours.nodes, g.node):
        read = [a for a in node.attribute if a.name in onnx_wire.CLASS_ATTRIBUTES]
        assert sorted(mine.strings) == sorted(mine.ints) == sorted(a.name for a in read)
        for attr in read:
            assert mine.strings[attr.name] == [s.decode() for s in attr.strings]
            assert mine.ints[attr.name] == list(attr.ints)
    assert [name for name, _ in ours.outputs] == [o.name for o in g.output]
    assert ours.producer_name == theirs.producer_name
    assert ours.producer_version == theirs.producer_version
    assert ours.opsets == {o.domain or "ai.onnx": o.version for o in theirs.opset_import}
    assert ours.metadata == [(p.key, p.value) for p in theirs.metadata_props]
    classes = [i for i in g.initializer if i.name == "classes"]
    if classes:
        arr = onnx.numpy_helper.to_array(classes[0]).reshape(-1)
        want = [v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item")
                else v for v in arr]
        assert ours.classes_initializer == want
    else:
        assert ours.classes_initializer is None


def _onnx_strip(raw: bytes) -> onnx.ModelProto:
    """What evalgate wrote with ``onnx`` before it had its own reader."""
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


def test_reads_every_field_as_onnx_does(zoo: Zoo) -> None:
    for path in [*SHIPPED, *_zoo_models(zoo)]:
        _same_reading(path.read_bytes())


def test_the_rewritten_model_is_onnxs(zoo: Zoo) -> None:
    stripped = 0
    for path in [*SHIPPED, *_zoo_models(zoo)]:
        raw = path.read_bytes()
        model = onnx_wire.parse(raw)
        zipmaps = [n for n in model.nodes if n.op_type == "ZipMap"]
        if not zipmaps:
            continue
        fed = zipmaps[0].inputs[0]
        ours = onnx.load_model_from_string(onnx_wire.without(model, zipmaps[0],
                                                             zipmaps[0].outputs[0], fed))
        assert ours == _onnx_strip(raw), path.name
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
    np.array([3, 4], dtype=np.int32), np.array([0.5, 1.5], dtype=np.float32),
    np.array([0.25, -2.0], dtype=np.float64)])
def test_a_classes_initializer_of_each_type(classes: np.ndarray) -> None:
    tensor = onnx.numpy_helper.from_array(classes, name="classes")
    raw = _model([oh.make_node("Identity", ["X"], ["Y"])],
                 [oh.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])], [tensor],
                 classes='["a", "b"]')
    _same_reading(raw)
    # the same values written in the typed fields, not raw_data
    typed = onnx.helper.make_tensor("classes", tensor.data_type, [2], classes.tolist())
    raw = _model([oh.make_node("Identity", ["X"], ["Y"])],
                 [oh.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])], [typed])
    _same_reading(raw)


def test_negative_and_unpacked_int_labels() -> None:
    node = oh.make_node("ZipMap", ["X"], ["Z"], domain="ai.onnx.ml",
                        classlabels_int64s=[-5, 0, 2 ** 40])
    raw = _model([node], [oh.make_value_info("Z", oh.make_sequence_type_proto(
        oh.make_map_type_proto(TensorProto.INT64, oh.make_tensor_type_proto(
            TensorProto.FLOAT, [])))),])
    _same_reading(raw)
    assert onnx_wire.parse(raw).nodes[0].ints["classlabels_int64s"] == [-5, 0, 2 ** 40]
    # proto2 writes repeated ints unpacked: one key per value; packed must read the same
    model = onnx.load_model_from_string(raw)
    packed = bytearray()
    for v in (-5, 0, 2 ** 40):
        packed += onnx_wire._encode_varint(v & (2 ** 64 - 1))
    attr = onnx_wire._encode_varint(1 << 3 | 2) + bytes([len("classlabels_int64s")]) + \
        b"classlabels_int64s" + onnx_wire._encode_varint(8 << 3 | 2) + \
        onnx_wire._encode_varint(len(packed)) + bytes(packed)
    node_bytes = onnx_wire._delimited(4, b"ZipMap") + onnx_wire._delimited(5, attr)
    parsed = onnx_wire._node(node_bytes, onnx_wire._Field(1, 2, 0, len(node_bytes), 0))
    assert parsed.op_type == "ZipMap"
    assert parsed.ints["classlabels_int64s"] == [-5, 0, 2 ** 40]
    assert model.graph.node[0].attribute[0].ints == [-5, 0, 2 ** 40]


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


def test_two_graphs_are_refused() -> None:
    raw = SHIPPED[0].read_bytes()
    model = onnx_wire.parse(raw)
    start, _, end = model.graph
    with pytest.raises(onnx_wire.WireError, match="two graph"):
        onnx_wire.parse(raw + raw[start:end])


def test_loading_a_model_does_not_import_onnx() -> None:
    code = ("import sys; from evalgate.models import load_model; "
            f"m = load_model({str(SHIPPED[0])!r}); "
            "print(m.info.signature['classes'], 'onnx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.split()
    assert out[-1] == "False" and out[0].startswith("[")
