"""Property-based fuzzing of every protocol method against a live daemon: random types, text
(lone surrogates included), sizes and unknown keys in the params. Each request must get a reply
with its id (a result or an error), and the daemon must answer a ping after every case."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_runtime import protocol as p
from tests.support.wire import RawClient

EXAMPLES = 400  # bounded so CI stays fast; every method is drawn many times over

texts = st.text(max_size=24) | st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1,
                                       max_size=3)
scalars = (st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
           | st.floats(allow_nan=False, allow_infinity=False) | texts)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
                      max_leaves=12)


@st.composite
def requests(draw: Any) -> tuple[str, dict[str, Any]]:
    method = draw(st.sampled_from(sorted(p.METHODS)))
    names = sorted(p.METHODS[method][0].KINDS) or ["x"]
    params = draw(st.dictionaries(st.sampled_from(names) | texts, values, max_size=len(names) + 2))
    return method, params


def _reply_to(client: RawClient, request_id: int) -> p.AnyMessage:
    return client.recv_until(lambda m: isinstance(m, (p.Response, p.ErrorReply)) and m.id == request_id)


def test_every_method_survives_random_params(daemon) -> None:
    client = RawClient(daemon.socket_path, timeout=60)
    client.handshake()
    next_id = [1000]

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(requests())
    def case(request: tuple[str, dict[str, Any]]) -> None:
        method, params = request
        next_id[0] += 1
        frame = {"type": "request", "id": next_id[0], "method": method, "params": params}
        client.send_raw((json.dumps(frame) + "\n").encode("ascii"))  # \ud800 goes as its JSON escape
        reply = _reply_to(client, next_id[0])
        if isinstance(reply, p.ErrorReply):
            assert reply.code != p.ErrorCode.INTERNAL, (method, params, reply.message)
        next_id[0] += 1
        client.send(p.Request(next_id[0], "ping", {}))
        assert isinstance(_reply_to(client, next_id[0]), p.Response), (method, params)

    case()
    client.close()
