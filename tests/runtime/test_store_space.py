"""Space on the real local device: a refused upload does not keep its space, ``edgectl df`` lists
what incoming/ holds with size and age and removes one, and a killed import child's staging is
gone at once, its error naming the signal."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import signal
import tarfile
import threading
import time
from pathlib import Path

import psutil

from console.cli.main import ExitCode
from console.core.env import ConsoleEnv
from console.core.models.package_gzip import CanonicalGzip
from device_runtime import protocol as p
from tests.support.store import edgectl, make_package, public_line, read_members, write_members
from tests.support.wire import RawClient


def _df(env: ConsoleEnv) -> p.StoreUsage:
    code, out, err = edgectl(env, "df", "--json")
    assert code == ExitCode.OK, err
    return p.StoreUsage.from_wire(json.loads(out))


def test_a_refused_upload_is_removed_and_df_lists_and_removes_the_rest(console_env: ConsoleEnv,
                                                                          tmp_path: Path) -> None:
    package = make_package(tmp_path, version="1.0.0", signed=False)
    members = read_members(package)
    info, data = members[-1]  # the model, after the manifest
    members[-1] = (info, data[:-1] + bytes([data[-1] ^ 1]))
    tampered = write_members(tmp_path / "tampered.tar.gz", members)
    code, _, err = edgectl(console_env, "deploy", str(tampered))
    assert code == ExitCode.ERROR and "sha256" in err
    assert _df(console_env).incoming == []  # these bytes can never be imported: their space is back

    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(300_000))
    code, _, err = edgectl(console_env, "push", str(weights))
    assert code == ExitCode.OK, err
    usage = _df(console_env)
    (entry,) = usage.incoming
    assert (entry.kind, entry.bytes, entry.size, entry.filename) == ("received", 300_000, 300_000, "weights.bin")
    assert 0 <= entry.age_s < 600 and usage.total_bytes > usage.free_bytes > 0 and usage.reserve_bytes > 0
    code, out, _ = edgectl(console_env, "df")
    assert "weights.bin: 0.3 MB received whole, not imported" in out and entry.id[:16] in out
    code, _, err = edgectl(console_env, "df", "--remove-upload", entry.id[:4])
    assert code == ExitCode.USAGE and "Nothing was removed" in err
    code, out, err = edgectl(console_env, "df", "--remove-upload", entry.id[:10])
    assert code == ExitCode.OK and "removed %s (weights.bin, 0.3 MB)" % entry.id[:16] in out, err
    assert _df(console_env).incoming == []
    code, out, _ = edgectl(console_env, "audit", "--json")
    removals = [json.loads(line) for line in out.splitlines() if json.loads(line)["action"] == "remove upload"]
    assert len(removals) == 1 and entry.id in removals[0]["detail"] and removals[0]["result"] == "ok"


def test_a_killed_import_child_leaves_no_staging_and_names_the_signal(daemon, tmp_path: Path) -> None:
    package = make_package(tmp_path, version="1.0.0", padding_bytes=120 << 20)
    client = RawClient(daemon.socket_path, timeout=120)
    client.handshake()
    assert isinstance(client.call("store.keys.trust", {"public_key": public_line()}), p.Response)
    assert isinstance(client.call("events.subscribe", {"topics": [p.TOPIC_STORE]}), p.Response)
    models = Path(daemon.root) / "models"
    killed = threading.Event()

    def kill_once_staging() -> None:  # the child of this import, once it has a staging folder
        daemon_proc = psutil.Process(daemon.pid)
        while not killed.is_set():
            children = [c for c in daemon_proc.children() if "import" in c.cmdline()]
            if children and models.is_dir() and any(e.name.startswith(".staging-") for e in models.iterdir()):
                os.kill(children[0].pid, signal.SIGKILL)
                killed.set()

    killer = threading.Thread(target=kill_once_staging)
    killer.start()
    reply = client.call("store.import", {"path": str(package)})
    assert isinstance(reply, p.Response)
    action_id = reply.result["id"]
    event = client.recv_until(lambda m: isinstance(m, p.Event) and m.topic == p.TOPIC_STORE
                              and m.data["id"] == action_id and m.data["state"] != p.STORE_ACTION_RUNNING)
    killed.set()
    killer.join()
    assert isinstance(event, p.Event)
    action = p.StoreAction.from_wire(event.data)
    assert action.state == p.STORE_ACTION_FAILED, action
    assert "killed by SIGKILL" in action.message and "what it had unpacked was removed" in action.message
    assert [e.name for e in models.iterdir() if e.name.startswith(".staging-")] == []  # now, not at a restart
    client.close()


def _with_zero_trailer(package: Path, out: Path, megabytes: int) -> Path:
    """The package's tar, then ``megabytes`` of zeros inside the same gzip stream."""
    members = read_members(package)
    with out.open("wb") as raw:
        stream = CanonicalGzip(raw)
        with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            for info, data in members:
                tar.addfile(info, io.BytesIO(data))
        zeros = b"\0" * (1 << 20)
        for _ in range(megabytes):
            stream.write(zeros)
        stream.close()
    return out


def test_a_gzip_trailer_of_zeros_is_refused_after_bounded_work(daemon, tmp_path: Path) -> None:
    package = _with_zero_trailer(make_package(tmp_path, version="1.0.0"), tmp_path / "trailer.tar.gz", 256)
    assert package.stat().st_size < 2 << 20  # 256 MB of zeros compress to almost nothing
    client = RawClient(daemon.socket_path, timeout=120)
    client.handshake()
    assert isinstance(client.call("store.keys.trust", {"public_key": public_line()}), p.Response)
    assert isinstance(client.call("events.subscribe", {"topics": [p.TOPIC_STORE]}), p.Response)
    reply = client.call("store.import", {"path": str(package)})
    assert isinstance(reply, p.Response)
    event = client.recv_until(lambda m: isinstance(m, p.Event) and m.topic == p.TOPIC_STORE
                              and m.data["id"] == reply.result["id"] and m.data["state"] != p.STORE_ACTION_RUNNING)
    assert isinstance(event, p.Event)
    action = p.StoreAction.from_wire(event.data)
    assert action.state == p.STORE_ACTION_FAILED and action.code == "bad_package", action
    assert "padding after the end of its tar archive" in action.message
    models = client.call("store.models")
    assert isinstance(models, p.Response) and models.result["models"] == []
    client.close()


def test_a_killed_receiving_child_leaves_no_staging(daemon, tmp_path: Path) -> None:
    package = make_package(tmp_path, version="1.0.0", padding_bytes=24 << 20)
    data = package.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    client = RawClient(daemon.socket_path, timeout=120)
    client.handshake()
    assert isinstance(client.call("store.keys.trust", {"public_key": public_line()}), p.Response)
    assert isinstance(client.call("store.upload.begin", {"sha256": sha, "size": len(data)}), p.Response)
    models = Path(daemon.root) / "models"
    offset, chunk = 0, p.STORE_UPLOAD_CHUNK

    def staging() -> list[str]:
        return [e.name for e in models.iterdir() if e.name.startswith(".staging-") and not e.name.endswith(".lock")]

    receiver = None
    while receiver is None or not staging():  # send until the receiving child has begun staging
        assert offset < len(data), "the receiving child never staged anything"
        sent = client.call("store.upload.chunk", {"id": sha, "offset": offset,
                                                  "data": base64.b64encode(data[offset:offset + chunk]).decode()})
        assert isinstance(sent, p.Response), sent
        offset = sent.result["offset"]
        children = [c for c in psutil.Process(daemon.pid).children() if "receive" in c.cmdline()]
        receiver = children[0] if children else None
    receiver.kill()
    log = Path(daemon.root) / "logs" / "daemon.log"
    said = "the receiving process was killed by SIGKILL; what it had unpacked was removed"
    deadline = time.monotonic() + 30  # a deadline on a condition, not a wait for time to pass
    while (staging() or said not in log.read_text()) and time.monotonic() < deadline:
        psutil.wait_procs([receiver], timeout=0.2)
    assert staging() == [] and said in log.read_text()  # while the daemon runs, not at its next start
    client.close()
