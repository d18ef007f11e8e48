"""Just enough of ONNX's protobuf to load a model: read its nodes, outputs, classes and
producer, and cut a final ZipMap off — without importing the ``onnx`` package, whose import
(``ml_dtypes`` among it) costs about 0.7 s, a third of a small gate.

The protobuf wire format (https://protobuf.dev/programming-guides/encoding/) is a sequence of
``(field number, wire type)`` keys, each followed by a varint, a fixed 4 or 8 bytes, or a
length and that many bytes. Only the fields evalgate reads are decoded; every other field is
skipped by its length and copied as it was when the model is rewritten, so the rewritten model
is the original with the ZipMap node and its output taken out and the probability tensor
added as an output. Field numbers are onnx.proto's (onnx/onnx.proto, IR version 3 onwards).

A file that is not well-formed protobuf at the levels read (a key or length running past the
end, a group, a field number 0) raises :class:`WireError`; a deeper defect is onnxruntime's to
report when it loads the bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# ModelProto
_PRODUCER_NAME, _PRODUCER_VERSION, _GRAPH, _OPSET_IMPORT, _METADATA_PROPS = 2, 3, 7, 8, 14
# GraphProto
_NODE, _INITIALIZER, _OUTPUT = 1, 5, 12
# NodeProto
_N_INPUT, _N_OUTPUT, _N_OP_TYPE, _N_ATTRIBUTE = 1, 2, 4, 5
# AttributeProto
_A_NAME, _A_INTS, _A_STRINGS = 1, 8, 9
# TensorProto and its element types
_T_DIMS, _T_DATA_TYPE, _T_FLOAT, _T_INT32, _T_STRING, _T_INT64, _T_NAME, _T_RAW, _T_DOUBLE = (
    1, 2, 4, 5, 6, 7, 8, 9, 10)
_FLOAT, _INT32, _STRING, _INT64, _DOUBLE = 1, 6, 8, 7, 11
#: the node attributes read (the class labels); the others are skipped undecoded
CLASS_ATTRIBUTES = frozenset({"classlabels_strings", "classlabels_int64s", "classlabels_ints"})
_RAW_FORMATS = {_FLOAT: "f", _INT32: "i", _INT64: "q", _DOUBLE: "d"}


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end:
            raise WireError("a varint runs past the end of its message")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise WireError("a varint longer than ten bytes")


@dataclass(frozen=True)
class _Field:
    number: int
    wire: int
    start: int  # where the field's key begins
    end: int  # where the field ends
    value: int  # a varint's or fixed field's value; a length-delimited field's payload start


def _fields(buf: bytes, start: int, end: int) -> Iterator[_Field]:
    pos = start
    while pos < end:
        key, after = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("a field numbered 0")
        if wire == 0:
            value, stop = _varint(buf, after, end)
        elif wire == 1:
            value, stop = after, after + 8
        elif wire == 5:
            value, stop = after, after + 4
        elif wire == 2:
            length, value = _varint(buf, after, end)
            stop = value + length
        else:
            raise WireError(f"wire type {wire} (groups are not used by ONNX)")
        if stop > end:
            raise WireError("a field runs past the end of its message")
        yield _Field(number, wire, pos, stop, value)
        pos = stop


def _text(buf: bytes, f: _Field) -> str:
    return buf[f.value:f.end].decode("utf-8", errors="replace")


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _ints(buf: bytes, f: _Field) -> list[int]:
    """A repeated int field's values at ``f``: one varint, or a packed run of them."""
    if f.wire == 0:
        return [_signed(f.value)]
    out, pos = [], f.value
    while pos < f.end:
        value, pos = _varint(buf, pos, f.end)
        out.append(_signed(value))
    return out


@dataclass
class Node:
    op_type: str = ""
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    #: of the attributes in :data:`CLASS_ATTRIBUTES`, name -> its ``strings`` (decoded) and
    #: its ``ints``
    strings: dict[str, list[str]] = field(default_factory=dict)
    ints: dict[str, list[int]] = field(default_factory=dict)
    span: tuple[int, int] = (0, 0)


def _attribute(buf: bytes, f: _Field, node: Node) -> None:
    # the name (field 1) comes first as every serializer writes fields in number order, so a
    # tree's attributes (one key per value: megabytes evalgate never reads) are left at once
    first = next(_fields(buf, f.value, f.end), None)
    if first is not None and first.number == _A_NAME and first.wire == 2:
        name = _text(buf, first)
        if name not in CLASS_ATTRIBUTES:
            return
    fields = list(_fields(buf, f.value, f.end))
    name = next((_text(buf, a) for a in fields if a.number == _A_NAME and a.wire == 2), "")
    if name not in CLASS_ATTRIBUTES:
        return
    node.strings[name] = [_text(buf, a) for a in fields
                          if a.number == _A_STRINGS and a.wire == 2]
    node.ints[name] = [v for a in fields if a.number == _A_INTS for v in _ints(buf, a)]


def _node(buf: bytes, f: _Field) -> Node:
    node = Node(span=(f.start, f.end))
    for n in _fields(buf, f.value, f.end):
        if n.wire != 2:
            continue
        if n.number == _N_INPUT:
            node.inputs.append(_text(buf, n))
        elif n.number == _N_OUTPUT:
            node.outputs.append(_text(buf, n))
        elif n.number == _N_OP_TYPE:
            node.op_type = _text(buf, n)
        elif n.number == _N_ATTRIBUTE:
            _attribute(buf, n, node)
    return node


def _tensor_values(buf: bytes, f: _Field) -> tuple[str, list[Any]]:
    """An initializer's name and its values (flattened), for the element types a class list
    can have (strings, 32/64-bit ints, floats, doubles); ``[]`` for any other."""
    name, dtype, raw = "", 0, b""
    strings: list[bytes] = []
    typed: list[Any] = []
    for t in _fields(buf, f.value, f.end):
        if t.number == _T_NAME and t.wire == 2:
            name = _text(buf, t)
        elif t.number == _T_DATA_TYPE and t.wire == 0:
            dtype = t.value
        elif t.number == _T_RAW and t.wire == 2:
            raw = buf[t.value:t.end]
        elif t.number == _T_STRING and t.wire == 2:
            strings.append(buf[t.value:t.end])
        elif t.number in (_T_INT32, _T_INT64):
            typed.extend(_ints(buf, t))
        elif t.number in (_T_FLOAT, _T_DOUBLE):
            fmt, size = ("<f", 4) if t.number == _T_FLOAT else ("<d", 8)
            chunk = buf[t.value:t.end] if t.wire == 2 else buf[t.value:t.value + size]
            typed.extend(v for (v,) in struct.iter_unpack(fmt, chunk))
    if dtype == _STRING:
        return name, [s.decode("utf-8", errors="replace") for s in strings]
    if raw and dtype in _RAW_FORMATS:
        fmt = "<" + _RAW_FORMATS[dtype]
        return name, [v for (v,) in struct.iter_unpack(fmt, raw)]
    if dtype == _INT32:
        return name, [int(struct.unpack("<i", struct.pack("<I", v & 0xFFFFFFFF))[0])
                      for v in typed]
    if dtype in _RAW_FORMATS:
        return name, list(typed)
    return name, []


@dataclass
class Model:
    """What evalgate reads of an ONNX ``ModelProto`` (the bytes it came from in ``raw``)."""

    raw: bytes
    producer_name: str = ""
    producer_version: str = ""
    opsets: dict[str, int] = field(default_factory=dict)
    metadata: list[tuple[str, str]] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    #: graph output names, with each output field's span in ``raw``
    outputs: list[tuple[str, tuple[int, int]]] = field(default_factory=list)
    #: the initializer named "classes", flattened, if the graph has one
    classes_initializer: list[Any] | None = None
    graph: tuple[int, int, int] = (0, 0, 0)  # the graph field's start, payload start, end


def _graph(buf: bytes, f: _Field, model: Model) -> None:
    model.graph = (f.start, f.value, f.end)
    for g in _fields(buf, f.value, f.end):
        if g.wire != 2:
            continue
        if g.number == _NODE:
            model.nodes.append(_node(buf, g))
        elif g.number == _OUTPUT:
            name = next((_text(buf, v) for v in _fields(buf, g.value, g.end)
                         if v.number == 1 and v.wire == 2), "")
            model.outputs.append((name, (g.start, g.end)))
        elif g.number == _INITIALIZER:
            name, values = _tensor_values(buf, g)
            if name == "classes" and model.classes_initializer is None:
                model.classes_initializer = values


def _pairs(buf: bytes, f: _Field) -> tuple[str, str, int]:
    """A ``StringStringEntryProto`` (key 1, value 2) or an ``OperatorSetIdProto`` (domain 1,
    version 2)."""
    key, text, number = "", "", 0
    for p in _fields(buf, f.value, f.end):
        if p.number == 1 and p.wire == 2:
            key = _text(buf, p)
        elif p.number == 2 and p.wire == 2:
            text = _text(buf, p)
        elif p.number == 2 and p.wire == 0:
            number = _signed(p.value)
    return key, text, number


def parse(raw: bytes) -> Model:
    """Read ``raw`` as an ONNX model; :class:`WireError` if it is not well-formed."""
    model = Model(raw)
    for f in _fields(raw, 0, len(raw)):
        if f.wire != 2:
            continue
        if f.number == _GRAPH:
            if model.graph != (0, 0, 0):
                raise WireError("two graph fields (evalgate reads one)")
            _graph(raw, f, model)
        elif f.number == _PRODUCER_NAME:
            model.producer_name = _text(raw, f)
        elif f.number == _PRODUCER_VERSION:
            model.producer_version = _text(raw, f)
        elif f.number == _OPSET_IMPORT:
            domain, _, version = _pairs(raw, f)
            model.opsets[domain or "ai.onnx"] = version
        elif f.number == _METADATA_PROPS:
            key, value, _ = _pairs(raw, f)
            model.metadata.append((key, value))
    return model


def _key(number: int) -> bytes:
    return _encode_varint(number << 3 | 2)


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _delimited(number: int, payload: bytes) -> bytes:
    return _key(number) + _encode_varint(len(payload)) + payload


def float_output(name: str) -> bytes:
    """A graph ``output`` field: a ``ValueInfoProto`` named ``name`` of type float tensor, no
    shape (as ``onnx.helper.make_tensor_value_info(name, FLOAT, None)`` writes it)."""
    tensor_type = _encode_varint(1 << 3 | 0) + _encode_varint(_FLOAT)
    type_proto = _delimited(1, tensor_type)
    return _delimited(_OUTPUT, _delimited(1, name.encode()) + _delimited(2, type_proto))


def without(model: Model, node: Node, output: str, add_output: str | None) -> bytes:
    """``model``'s bytes with ``node`` and the graph output ``output`` removed, and a float
    output ``add_output`` appended to the graph (when given)."""
    raw = model.raw
    g_start, g_payload, g_end = model.graph
    cut = sorted([node.span, *(span for name, span in model.outputs if name == output)])
    parts, pos = [], g_payload
    for start, end in cut:
        parts.append(raw[pos:start])
        pos = end
    parts.append(raw[pos:g_end])
    if add_output is not None:
        parts.append(float_output(add_output))
    graph = _delimited(_GRAPH, b"".join(parts))
    return raw[:g_start] + graph + raw[g_end:]
