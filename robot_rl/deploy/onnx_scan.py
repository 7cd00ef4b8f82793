"""Standard-library scan of an ONNX file: external data, op domains, op types.

The robot runtime may import only numpy and onnxruntime, so it cannot use the ``onnx`` package
to look inside a model. ONNX files are protobuf; this module walks the wire format for the few
fields it needs (field numbers from ``onnx.proto3``) and reports:

* tensors stored as external data (``TensorProto.data_location == EXTERNAL`` or
  ``external_data`` entries), in initializers and in node attributes, subgraphs included;
* operator-set domains and node domains (custom domains are refused by the runtime);
* model-local functions (``ModelProto.functions``), which can hide custom ops;
* the node op types (so callers can refuse random-sampling ops).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from robot_rl.errors import InputError

#: Domains of the standard ONNX operator sets.
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
#: Operators that sample or drop at random: a deterministic policy graph must contain none.
RANDOM_OPS = frozenset(
    {
        "RandomNormal",
        "RandomNormalLike",
        "RandomUniform",
        "RandomUniformLike",
        "Multinomial",
        "Bernoulli",
        "Dropout",
    }
)

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


@dataclass
class OnnxScan:
    """What :func:`scan_onnx` found."""

    external_tensors: list[str] = field(default_factory=list)
    opset_domains: set[str] = field(default_factory=set)
    node_domains: set[str] = field(default_factory=set)
    op_types: set[str] = field(default_factory=set)
    n_functions: int = 0

    @property
    def custom_domains(self) -> set[str]:
        """Domains outside :data:`STANDARD_DOMAINS`."""
        return (self.opset_domains | self.node_domains) - STANDARD_DOMAINS


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise InputError("truncated protobuf varint: not a valid ONNX file")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of one protobuf message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = _varint(buf, pos)
            yield num, wire, value
        elif wire == _LEN:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise InputError("truncated protobuf field: not a valid ONNX file")
            yield num, wire, buf[pos : pos + size]
            pos += size
        elif wire == _I64:
            pos += 8
        elif wire == _I32:
            pos += 4
        else:
            raise InputError(f"unsupported protobuf wire type {wire}: not a valid ONNX file")


def _tensor(buf: bytes, out: OnnxScan) -> None:
    name, external = "", False
    for num, _, value in _fields(buf):
        if num == 8 and isinstance(value, bytes):  # name
            name = value.decode("utf-8", "replace")
        elif num == 13 or (num == 14 and value == 1):  # external_data / data_location=EXTERNAL
            external = True
    if external:
        out.external_tensors.append(name or "<unnamed>")


def _attribute(buf: bytes, out: OnnxScan) -> None:
    for num, _, value in _fields(buf):
        if not isinstance(value, bytes):
            continue
        if num in (5, 10):  # t, tensors
            _tensor(value, out)
        elif num in (6, 11):  # g, graphs
            _graph(value, out)


def _node(buf: bytes, out: OnnxScan) -> None:
    for num, _, value in _fields(buf):
        if not isinstance(value, bytes):
            continue
        if num == 4:  # op_type
            out.op_types.add(value.decode("utf-8", "replace"))
        elif num == 7:  # domain
            out.node_domains.add(value.decode("utf-8", "replace"))
        elif num == 5:  # attribute
            _attribute(value, out)


def _graph(buf: bytes, out: OnnxScan) -> None:
    for num, _, value in _fields(buf):
        if not isinstance(value, bytes):
            continue
        if num == 1:  # node
            _node(value, out)
        elif num == 5:  # initializer
            _tensor(value, out)
        elif num == 15:  # sparse_initializer: SparseTensorProto values=1, indices=2
            for sub_num, _, sub in _fields(value):
                if sub_num in (1, 2) and isinstance(sub, bytes):
                    _tensor(sub, out)


def scan_onnx(data: bytes) -> OnnxScan:
    """Scan serialized ``ModelProto`` bytes (see module docstring).

    Raises:
        ValueError: the bytes are not a parsable protobuf message or hold no graph.
    """
    out = OnnxScan()
    has_graph = False
    for num, _, value in _fields(data):
        if not isinstance(value, bytes):
            continue
        if num == 7:  # graph
            has_graph = True
            _graph(value, out)
        elif num == 8:  # opset_import
            domain = ""
            for sub_num, _, sub in _fields(value):
                if sub_num == 1 and isinstance(sub, bytes):
                    domain = sub.decode("utf-8", "replace")
            out.opset_domains.add(domain)
        elif num == 25:  # functions
            out.n_functions += 1
    if not has_graph:
        raise InputError("no graph in the ONNX file: not a valid ONNX model")
    return out
