"""Event subscriptions: topics are checked, delivery crosses threads onto the loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from device_runtime import protocol as p
from device_runtime.server.events import EventBus


def test_unknown_topics_are_refused_with_the_known_ones_named() -> None:
    bus = EventBus()
    with pytest.raises(p.ProtocolError) as err:
        bus.subscribe(1, ["alert", "gossip"], lambda frame: None)
    assert "gossip" in err.value.message and "job.log" in err.value.message


def test_publish_reaches_only_subscribers_of_the_topic() -> None:
    bus = EventBus()
    got: dict[int, list[bytes]] = {1: [], 2: []}
    bus.subscribe(1, [p.TOPIC_ALERT], got[1].append)
    bus.subscribe(2, [p.TOPIC_JOB], got[2].append)
    bus.publish(p.TOPIC_ALERT, p.AlertQuery(since=3.0))
    assert len(got[1]) == 1 and got[2] == []
    message = p.decode(got[1][0])
    assert isinstance(message, p.Event) and message.topic == "alert" and message.data == {"since": 3.0}
    bus.unsubscribe(1)
    bus.publish(p.TOPIC_ALERT, p.AlertQuery())
    assert len(got[1]) == 1


def test_publish_from_a_worker_thread_is_delivered_on_the_loop() -> None:
    loop = asyncio.new_event_loop()
    bus = EventBus()
    delivered_on: list[int] = []
    done = loop.create_future()

    def sink(frame: bytes) -> None:
        delivered_on.append(threading.get_ident())
        done.set_result(frame)

    bus.attach_loop(loop)
    bus.subscribe(7, [p.TOPIC_JOB_LOG], sink)
    worker = threading.Thread(target=bus.publish, args=(p.TOPIC_JOB_LOG, p.JobLog("j1", 0, ["hello"])))
    worker.start()
    frame = loop.run_until_complete(asyncio.wait_for(done, 10))
    worker.join()
    loop.close()
    assert delivered_on == [threading.get_ident()]
    assert p.decode(frame).data["lines"] == ["hello"]  # type: ignore[union-attr]


def test_events_subscribe_over_a_real_daemon(daemon) -> None:
    from tests.support.wire import RawClient

    client = RawClient(daemon.socket_path)
    client.handshake()
    ok = client.call("events.subscribe", {"topics": ["alert", "job"]})
    assert isinstance(ok, p.Response)
    bad = client.call("events.subscribe", {"topics": ["nope"]})
    assert isinstance(bad, p.ErrorReply) and bad.code == p.ErrorCode.BAD_FIELD
    client.close()
