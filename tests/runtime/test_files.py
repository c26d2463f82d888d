"""The daemon's uploads area for job inputs: resumable, verified, safe names, no duplicates."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from device_runtime import protocol as p
from tests.support.wire import RawClient


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_chunks_resume_verify_and_refuse_bad_input(daemon) -> None:
    client = RawClient(daemon.socket_path)
    client.handshake()
    data = b"model bytes " * 50_000
    sha = hashlib.sha256(data).hexdigest()

    for name in ("../escape.onnx", ".hidden", "a/b.onnx", ""):
        bad = client.call("files.begin", {"sha256": sha, "size": len(data), "filename": name})
        assert isinstance(bad, p.ErrorReply) and "not a plain file name" in bad.message
    bad = client.call("files.begin", {"sha256": "nope", "size": 1, "filename": "m.onnx"})
    assert isinstance(bad, p.ErrorReply) and "sha256" in bad.message

    begin = client.call("files.begin", {"sha256": sha, "size": len(data), "filename": "m.onnx"})
    assert isinstance(begin, p.Response) and begin.result["offset"] == 0 and begin.result["part"]
    half = len(data) // 2
    assert isinstance(client.call("files.chunk", {"id": sha, "offset": 0, "data": _b64(data[:half])}), p.Response)
    wrong = client.call("files.chunk", {"id": sha, "offset": 0, "data": _b64(data[half:])})
    assert isinstance(wrong, p.ErrorReply) and "resume from %d" % half in wrong.message
    resumed = client.call("files.begin", {"sha256": sha, "size": len(data), "filename": "m.onnx"})
    assert isinstance(resumed, p.Response) and resumed.result["offset"] == half  # a dropped link resumes here
    assert isinstance(client.call("files.chunk", {"id": sha, "offset": half, "data": _b64(data[half:])}), p.Response)
    done = client.call("files.finish", {"id": sha})
    assert isinstance(done, p.Response)
    path = done.result["path"]
    assert path.startswith(str(daemon.root)) and Path(path).read_bytes() == data
    again = client.call("files.begin", {"sha256": sha, "size": len(data), "filename": "m.onnx"})
    assert isinstance(again, p.Response) and again.result["path"] == path  # held already: nothing to send

    # Bytes that do not match the announced sha256 are refused and thrown away.
    other = hashlib.sha256(b"expected").hexdigest()
    state = client.call("files.begin", {"sha256": other, "size": 7, "filename": "x.npz"})
    assert isinstance(state, p.Response)
    client.call("files.chunk", {"id": other, "offset": 0, "data": _b64(b"damaged")})
    damaged = client.call("files.finish", {"id": other})
    assert isinstance(damaged, p.ErrorReply) and "arrived damaged" in damaged.message
    assert not os.path.exists(state.result["part"])
    client.close()
