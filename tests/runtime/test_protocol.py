"""Protocol round trips and rejection of malformed frames, property-based."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_runtime import protocol as p

names = st.text(min_size=1, max_size=40)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | finite | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
gpus = st.builds(p.GpuInfo, index=st.integers(0, 16), name=names, driver=st.none() | names,
                 memory_total_mb=st.none() | finite, compute_capability=st.none() | names)
capabilities = st.builds(
    p.Capabilities, hostname=names, board_model=names, os=names, arch=names, python=names,
    cpu_count=st.integers(1, 512), memory_total_mb=finite, gpus=st.lists(gpus, max_size=3),
    l4t=st.none() | names, jetpack=st.none() | names, cuda=st.none() | names, tensorrt=st.none() | names,
    onnxruntime=st.none() | names, backends=st.lists(names, max_size=3), dla_cores=st.integers(0, 2),
    power_mode=st.none() | names, demo_model=st.none() | names,
)
ids = st.integers(0, 2**53)
messages = st.one_of(
    st.builds(p.Hello, id=ids, protocol=st.integers(0, 100), client=names, min_protocol=st.integers(0, 100)),
    st.builds(p.Welcome, id=ids, protocol=st.integers(0, 100), runtime_version=names, capabilities=capabilities),
    st.builds(p.Request, id=ids, method=names, params=st.dictionaries(st.text(max_size=10), json_values, max_size=5)),
    st.builds(p.Response, id=ids, result=st.dictionaries(st.text(max_size=10), json_values, max_size=5)),
    st.builds(p.ErrorReply, code=names, message=st.text(max_size=100), id=st.none() | ids,
              detail=st.none() | st.text(max_size=50)),
    st.builds(p.Event, topic=names, data=st.dictionaries(st.text(max_size=10), json_values, max_size=5)),
)


@given(messages)
@settings(max_examples=300)
def test_every_message_round_trips_through_the_codec(message: p.Message) -> None:
    frame = p.encode(message)
    assert frame.endswith(b"\n") and frame.count(b"\n") == 1
    assert p.decode(frame) == message


@given(st.lists(messages, min_size=1, max_size=8), st.integers(1, 64))
@settings(max_examples=100)
def test_frames_split_anywhere_reassemble(batch: list[p.Message], chunk: int) -> None:
    stream = b"".join(p.encode(m) for m in batch)
    decoder = p.FrameDecoder()
    out = []
    for i in range(0, len(stream), chunk):
        out.extend(decoder.feed(stream[i:i + chunk]))
    assert [p.decode(f) for f in out if isinstance(f, bytes)] == batch


@given(st.binary(max_size=300))
@settings(max_examples=400)
def test_arbitrary_bytes_never_raise_anything_but_protocol_error(data: bytes) -> None:
    for item in p.FrameDecoder(max_frame=256).feed(data + b"\n"):
        if isinstance(item, bytes):
            try:
                p.decode(item)
            except p.ProtocolError as exc:
                assert exc.code in vars(p.ErrorCode).values()


@given(json_values)
def test_json_that_is_not_a_typed_message_is_refused(value: object) -> None:
    frame = json.dumps(value).encode()
    if isinstance(value, dict) and value.get("type") in ("hello", "welcome", "request", "response", "error", "event"):
        return
    with pytest.raises(p.ProtocolError):
        p.decode(frame)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"not json", p.ErrorCode.BAD_FRAME),
        (b"\xff\xfe", p.ErrorCode.BAD_FRAME),
        (b"[1, 2]", p.ErrorCode.BAD_FRAME),
        (b'{"id": 3}', p.ErrorCode.BAD_FRAME),
        (b'{"type": "teleport", "id": 4}', p.ErrorCode.UNKNOWN_TYPE),
        (b'{"type": "request", "id": "x", "method": "ping"}', p.ErrorCode.BAD_FIELD),
        (b'{"type": "request", "id": 5}', p.ErrorCode.BAD_FIELD),
        (b'{"type": "request", "id": 6, "method": "ping", "params": []}', p.ErrorCode.BAD_FIELD),
        (b'{"type": "hello", "id": 7, "protocol": true, "client": "x"}', p.ErrorCode.BAD_FIELD),
        (b'{"type": "event", "topic": "t", "data": {"x": NaN}}', p.ErrorCode.BAD_FRAME),
        (b'{"type": "event", "topic": "t", "data": {"x": Infinity}}', p.ErrorCode.BAD_FRAME),
        (b"[" * 5000 + b"]" * 5000, p.ErrorCode.BAD_FRAME),
    ],
)
def test_malformed_frames_get_a_coded_error(frame: bytes, code: str) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.decode(frame)
    assert info.value.code == code


def test_request_id_is_kept_on_a_bad_field_so_the_reply_can_echo_it() -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.decode(b'{"type": "request", "id": 41, "method": 3}')
    assert info.value.request_id == 41


def test_oversized_frame_is_skipped_without_buffering() -> None:
    decoder = p.FrameDecoder(max_frame=1000)
    out = list(decoder.feed(b"x" * 600))
    assert out == []
    out = list(decoder.feed(b"x" * 600))  # now over the limit: buffer dropped
    assert out == [] and decoder.pending == 0
    for _ in range(100):
        assert list(decoder.feed(b"y" * 10_000)) == []
        assert decoder.pending == 0
    out = list(decoder.feed(b'zz\n{"type":"event","topic":"ok"}\n'))
    assert isinstance(out[0], p.ProtocolError) and out[0].code == p.ErrorCode.FRAME_TOO_LARGE
    assert "1001202 bytes" in out[0].message
    assert p.decode(out[1]) == p.Event("ok")


def test_params_are_typed_per_method() -> None:
    sub = p.parse_params(p.Request(1, "telemetry.subscribe", {"rate_hz": 5}))
    assert sub == p.SubscribeTelemetry(rate_hz=5.0)
    with pytest.raises(p.ProtocolError) as info:
        p.parse_params(p.Request(2, "telemetry.subscribe", {"rate_hz": "fast"}))
    assert info.value.code == p.ErrorCode.BAD_FIELD and info.value.request_id == 2
    with pytest.raises(p.ProtocolError) as info:
        p.parse_params(p.Request(3, "format_disk", {}))
    assert info.value.code == p.ErrorCode.UNKNOWN_METHOD


def test_encoding_refuses_non_finite_numbers() -> None:
    with pytest.raises(ValueError):
        p.encode(p.Event("t", {"x": math.nan}))


@pytest.mark.parametrize(
    ("peer", "peer_min", "ok"),
    [(1, 1, True), (0, 0, False), (2, 1, True), (5, p.PROTOCOL_VERSION + 1, False)],
)
def test_version_negotiation(peer: int, peer_min: int, ok: bool) -> None:
    problem = p.check_compatible(peer, peer_min)
    assert (problem is None) is ok
    if problem:
        assert "update the" in problem


def _leaf(kind: str) -> str:
    while kind.split(":", 1)[0] in ("opt", "list", "map"):
        kind = kind.split(":", 1)[1]
    return kind


def test_wire_kinds_come_from_the_annotations_and_name_only_known_types() -> None:
    assert p.StoreAction.KINDS["previous"] == "opt:str"
    assert p.StoreAction.KINDS["steps_s"] == "map:float" and p.StoreAction.KINDS["notes"] == "list:str"
    assert p.Capabilities.KINDS["gpus"] == "list:GpuInfo"
    for name, record in p._RECORDS.items():
        assert set(record.KINDS) == {f.name for f in dataclasses.fields(record)}, name
        for field_name, kind in record.KINDS.items():
            leaf = _leaf(kind)
            assert leaf in ("str", "int", "float", "bool", "json") or leaf in p._RECORDS, (name, field_name, kind)


def test_a_field_the_wire_language_cannot_carry_is_refused_when_the_record_is_declared() -> None:
    with pytest.raises(AssertionError, match="no wire kind"):
        @p._record
        @dataclasses.dataclass
        class Odd(p.Record):
            pair: tuple[int, int]  # a tuple has no wire kind


# A welcome as a daemon of protocol 3 sends it, before the board's model had its own Python name.
WELCOME_V3 = (
    b'{"id":1,"protocol":3,"runtime_version":"0.9.0","capabilities":{"hostname":"robot-7",'
    b'"model":"NVIDIA Jetson Orin NX Engineering Reference Developer Kit","os":"Ubuntu 22.04.4 LTS",'
    b'"arch":"aarch64","python":"3.10.12","cpu_count":8,"memory_total_mb":7620.5,"gpus":[{"index":0,'
    b'"name":"Orin","driver":null,"memory_total_mb":null,"compute_capability":"8.7"}],"l4t":"36.4.3",'
    b'"jetpack":"6.2","cuda":"12.6","tensorrt":"10.3.0","onnxruntime":"1.20.0","backends":["onnxruntime",'
    b'"tensorrt"],"dla_cores":1,"power_mode":"25W","demo_model":null,"serial":"1423022012345",'
    b'"board":"Jetson Orin NX 8GB"},"type":"welcome"}\n'
)


def test_a_welcome_of_the_current_protocol_gives_the_board_model_and_goes_back_out_unchanged() -> None:
    welcome = p.decode(WELCOME_V3)
    assert isinstance(welcome, p.Welcome)
    caps = welcome.capabilities
    assert caps.board_model == "NVIDIA Jetson Orin NX Engineering Reference Developer Kit"
    assert caps.board == "Jetson Orin NX 8GB"
    # What this side sends has the same keys and values, so a console or daemon that reads the
    # field as "model" (every release before this one) reads it unchanged.
    assert json.loads(p.encode(welcome)) == json.loads(WELCOME_V3)
    wire = caps.to_wire()
    assert wire["model"] == caps.board_model and "board_model" not in wire


def test_a_renamed_field_is_read_and_named_by_its_wire_key() -> None:
    wire = p.Capabilities("h", "Raspberry Pi 5", "Linux", "aarch64", "3.11", 4, 8000.0).to_wire()
    del wire["model"]
    with pytest.raises(p.ProtocolError, match="needs field 'model'"):
        p.Capabilities.from_wire(wire)
    wire["model"], wire["board_model"] = 42, "ignored: not a key of the protocol"
    with pytest.raises(p.ProtocolError, match="model must be a string"):
        p.Capabilities.from_wire(wire)
    assert p.Capabilities.WIRE_KEYS == {"board_model": "model"}


def test_two_fields_with_one_wire_key_are_refused_when_the_record_is_declared() -> None:
    with pytest.raises(AssertionError, match="two fields with the same JSON key"):
        @p._record
        @dataclasses.dataclass
        class Twice(p.Record):
            name: str
            label: str = dataclasses.field(metadata=p.wire_key("name"))
