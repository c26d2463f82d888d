"""Text that is not valid Unicode (a lone surrogate, which JSON allows) is refused at the edge,
naming the field, and nothing of it is stored: the device keeps working for every client."""

from __future__ import annotations

import json

import pytest

from device_runtime import protocol as p
from tests.support.wire import RawClient


def _raw_request(client: RawClient, method: str, params_json: str) -> p.AnyMessage:
    client.next_id += 1
    request_id = client.next_id
    frame = '{"type":"request","id":%d,"method":"%s","params":%s}\n' % (request_id, method, params_json)
    client.send_raw(frame.encode("ascii"))
    return client.recv_until(lambda m: isinstance(m, (p.Response, p.ErrorReply)) and m.id == request_id)


@pytest.mark.parametrize(
    ("method", "params_json", "field_name"),
    [
        ("health.config.set", r'{"restart_service":"robot\ud800.service"}', "restart_service"),
        ("jobs.submit", r'{"kind":"validate","spec":{"model":"m.onnx"},"label":"x\udc00"}', "label"),
        ("jobs.submit", r'{"kind":"validate","spec":{"model":"m\ud83d.onnx"}}', "spec.model"),
        ("alerts.thresholds.set", r'{"zone_limits_c":{"gpu\udfff":80.0}}', "a key of params"),
    ],
)
def test_a_lone_surrogate_is_refused_naming_the_field(daemon, method: str, params_json: str,
                                                      field_name: str) -> None:
    client = RawClient(daemon.socket_path)
    client.handshake()
    reply = _raw_request(client, method, params_json)
    assert isinstance(reply, p.ErrorReply), reply
    assert reply.code == p.ErrorCode.BAD_FIELD
    assert field_name in reply.message and "Unicode" in reply.message
    # The daemon stored nothing of it: every read still answers, for this client and others.
    other = RawClient(daemon.socket_path)
    other.handshake()
    for read in ("health.config.get", "jobs.list", "ping"):
        answer = other.call(read)
        assert isinstance(answer, p.Response), (read, answer)
    jobs = other.call("jobs.list")
    assert isinstance(jobs, p.Response) and jobs.result["jobs"] == []
    client.close()
    other.close()


def test_decoder_names_the_field_and_encoder_never_fails() -> None:
    frame = json.dumps({"type": "request", "id": 7, "method": "jobs.list", "params": {"a": ["ok", "\ud800"]}})
    with pytest.raises(p.ProtocolError) as caught:
        p.decode(frame.encode("ascii"))
    assert caught.value.code == p.ErrorCode.BAD_FIELD and caught.value.request_id == 7
    assert "params.a[1]" in caught.value.message
    # A record stored before the edge refused such text still goes out, marked, instead of
    # failing every reply that carries it.
    out = p.encode(p.Response(1, {"label": "x\ud800y"}))
    assert json.loads(out)["result"]["label"] == "x?y"


def test_a_job_stored_with_a_lone_surrogate_still_lists(short_tmp) -> None:
    from device_runtime.jobs.store import JobStore

    store = JobStore(str(short_tmp / "jobs.db"))
    try:
        store.put(p.JobInfo("j1", "validate", p.JOB_QUEUED, {"model": "m\ud800.onnx"}, label="a\udc80b", created=1.0))
        start, kept = store.append_log("j1", ["ok", "bad \ud800 byte"])
        assert (start, kept) == (0, ["ok", "bad ? byte"])
        (job,) = store.list()
        assert (job.label, job.spec["model"]) == ("a?b", "m?.onnx")
        assert store.get("j1") == job
    finally:
        store.close()
