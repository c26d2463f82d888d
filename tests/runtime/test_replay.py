"""A request sent again with the same id after its reply was lost acts once: the kept reply is
replayed. The cache on its own, then the real daemon over its socket (two connections of one
console instance, as a reconnect makes them), and older consoles that name no instance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from device_runtime import protocol as p
from device_runtime.demo_model import write_demo_model
from device_runtime.server.deferred import Deferred
from device_runtime.server.replay import ReplyCache, params_digest
from device_runtime.server.session import ClientSession
from device_runtime.server.telemetry import TelemetryHub
from tests.support.wire import RawClient

KEY = ("alice", "console-1", 7)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_retry_gets_the_kept_reply_and_a_waiting_retry_gets_it_when_done() -> None:
    cache = ReplyCache()
    digest = params_digest("jobs.submit", {"kind": "validate"})
    got: list[bytes] = []
    assert cache.begin(KEY, digest, got.append) is True  # new: the caller acts
    assert cache.begin(KEY, digest, got.append) is False  # in flight: waits, no second action
    assert got == []
    cache.finish(KEY, b"reply-1\n")
    assert got == [b"reply-1\n"]
    assert cache.begin(KEY, digest, got.append) is False
    assert got == [b"reply-1\n", b"reply-1\n"] and cache.replayed == 2
    # Another console instance, or another user, with the same number is another request.
    assert cache.begin(("alice", "console-2", 7), digest, got.append) is True
    assert cache.begin(("bob", "console-1", 7), digest, got.append) is True


def test_an_id_reused_for_another_request_is_refused() -> None:
    cache = ReplyCache()
    cache.begin(KEY, params_digest("jobs.submit", {"kind": "validate"}), lambda _: None)
    cache.finish(KEY, b"r\n")
    with pytest.raises(p.ProtocolError, match="request id 7 was already used for another request"):
        cache.begin(KEY, params_digest("jobs.cancel", {"id": "x"}), lambda _: None)


def test_replies_are_forgotten_after_the_ttl_and_bounded_in_count_and_bytes() -> None:
    clock = Clock()
    cache = ReplyCache(max_entries=3, max_bytes=100, ttl_s=60.0, clock=clock)
    for i in range(5):
        cache.begin(("u", "c", i), "d", lambda _: None)
        cache.finish(("u", "c", i), b"x" * 10)
    assert len(cache) == 3  # the oldest two went first
    assert cache.begin(("u", "c", 0), "d", lambda _: None) is True  # forgotten: acts again
    cache.finish(("u", "c", 0), b"y" * 95)
    assert len(cache) == 1  # 95 bytes leave room for nothing else under 100
    clock.now += 61.0
    assert cache.begin(("u", "c", 0), "d", lambda _: None) is True  # expired
    cache.finish(("u", "c", 0), b"z")


def _client(socket_path: Path, instance: str | None) -> RawClient:
    client = RawClient(socket_path)
    client.send(p.Hello(1, p.PROTOCOL_VERSION, "test", p.MIN_PROTOCOL_VERSION, instance))
    welcome = client.recv()
    assert isinstance(welcome, p.Welcome) and welcome.protocol >= p.REPLAY_PROTOCOL_VERSION
    return client


def _call(client: RawClient, request_id: int, method: str, params: dict[str, Any]) -> p.AnyMessage:
    client.send(p.Request(request_id, method, params))
    return client.recv_until(lambda m: isinstance(m, (p.Response, p.ErrorReply)) and m.id == request_id)


def _jobs(client: RawClient) -> list[dict[str, Any]]:
    reply = client.call("jobs.list", {"limit": 100})
    assert isinstance(reply, p.Response)
    return list(reply.result["jobs"])


def test_daemon_answers_a_retry_on_a_new_connection_without_acting_again(daemon: Any, tmp_path: Path) -> None:
    model = write_demo_model(str(tmp_path / "m.onnx"))
    submit = {"kind": "validate", "spec": {"model": model}, "label": "once"}
    first = _client(daemon.socket_path, "console-a")
    original = _call(first, 41, "jobs.submit", submit)
    assert isinstance(original, p.Response)
    first.close()  # the reply was read here; pretend it was lost on the way

    again = _client(daemon.socket_path, "console-a")  # the console reconnected
    replayed = _call(again, 41, "jobs.submit", submit)
    assert isinstance(replayed, p.Response) and replayed.result == original.result
    assert [j["id"] for j in _jobs(again) if j["label"] == "once"] == [original.result["id"]]

    # The same id from another console instance is another request.
    other = _client(daemon.socket_path, "console-b")
    fresh = _call(other, 41, "jobs.submit", submit)
    assert isinstance(fresh, p.Response) and fresh.result["id"] != original.result["id"]
    # Reusing an id for something else is refused, and nothing is done.
    reused = _call(again, 41, "jobs.submit", {**submit, "label": "other"})
    assert isinstance(reused, p.ErrorReply) and reused.code == p.ErrorCode.BAD_FIELD
    assert "already used" in reused.message
    # A refusal is kept too: the retry of a request the device refused is refused the same way.
    bad = _call(again, 42, "jobs.submit", {"kind": "warp", "spec": {}})
    bad_again = _call(again, 42, "jobs.submit", {"kind": "warp", "spec": {}})
    assert isinstance(bad, p.ErrorReply) and isinstance(bad_again, p.ErrorReply)
    assert (bad.code, bad.message) == (bad_again.code, bad_again.message)
    # Reads are not kept: the same id asks again and sees the new state.
    assert len([j for j in _jobs(again) if j["label"] == "once"]) == 2
    for client in (again, other):
        client.close()


def test_an_older_console_without_an_instance_is_served_as_before(daemon: Any, tmp_path: Path) -> None:
    model = write_demo_model(str(tmp_path / "m.onnx"))
    submit = {"kind": "validate", "spec": {"model": model}, "label": "old console"}
    client = RawClient(daemon.socket_path)
    client.send(p.Hello(1, 1, "edge-console/0.0.9"))  # protocol 1, no instance token
    assert isinstance(client.recv(), p.Welcome)
    one = _call(client, 5, "jobs.submit", submit)
    two = _call(client, 5, "jobs.submit", submit)
    assert isinstance(one, p.Response) and isinstance(two, p.Response)
    assert one.result["id"] != two.result["id"]  # no replay without an instance: each acts
    client.close()


def test_a_reply_is_kept_once() -> None:
    cache = ReplyCache(max_bytes=10)
    cache.begin(KEY, "d", lambda _: None)
    cache.finish(KEY, b"12345")
    cache.finish(KEY, b"67890")  # a second answer to the same request changes nothing
    got: list[bytes] = []
    assert cache.begin(KEY, "d", got.append) is False and got == [b"12345"]
    cache.begin(("u", "c", 2), "d", lambda _: None)
    cache.finish(("u", "c", 2), b"abcde")
    assert len(cache) == 2  # 10 bytes: both fit, the first was counted once


class HeldWork(Deferred):
    """A handler's deferred work that finishes when the test says so (no loop, no thread)."""

    def __init__(self) -> None:
        super().__init__(p.Empty)
        self.done: Any = None

    def start(self, done: Any) -> None:
        self.done = done


def _session(cache: ReplyCache, handlers: dict[str, Any], sent: list[bytes]) -> ClientSession:
    caps = p.Capabilities("h", "m", "os", "x86_64", "3.8", 1, 1.0)
    session = ClientSession(1, TelemetryHub([]), caps, sent.append, lambda: None, services=handlers,
                            actor="alice", replies=cache)
    session.feed(p.encode(p.Hello(1, p.PROTOCOL_VERSION, "test", p.MIN_PROTOCOL_VERSION, "console-a")))
    sent.clear()
    return session


def test_a_retry_while_the_first_attempt_still_works_gets_its_reply_when_done() -> None:
    cache = ReplyCache()
    work: list[HeldWork] = []
    calls: list[str] = []

    def submit(params: p.Record) -> Any:
        calls.append("submit")
        work.append(HeldWork())
        return work[-1]

    first_out: list[bytes] = []
    retry_out: list[bytes] = []
    first = _session(cache, {"jobs.submit": submit}, first_out)
    retry = _session(cache, {"jobs.submit": submit}, retry_out)  # the console's new connection
    request = p.encode(p.Request(9, "jobs.submit", {"kind": "validate", "spec": {}}))
    first.feed(request)
    retry.feed(request)
    assert calls == ["submit"] and first_out == [] and retry_out == []  # acted once; both wait
    job = p.JobInfo("j1", "validate", "queued", {})
    work[0].done(job, None)
    assert len(first_out) == 1 and retry_out == first_out
    reply = p.decode(first_out[0])
    assert isinstance(reply, p.Response) and reply.id == 9 and reply.result == job.to_wire()
