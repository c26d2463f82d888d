"""Prove the device runtime on an old Python (JetPack 5 ships 3.8): import every module, then
start a real daemon under this interpreter, hand-shake with it and call a few methods.

Only the standard library is needed; modules that need a third-party package at import time
are named, not hidden.
"""

import importlib
import os
import pkgutil
import shutil
import socket
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, ROOT)

import device_runtime  # noqa: E402
from device_runtime import protocol  # noqa: E402
from device_runtime.report import LatencyReporter  # noqa: E402
from device_runtime.server.bridge import start_daemon  # noqa: E402

THIRD_PARTY = {"numpy", "onnx", "onnxruntime", "psutil", "pynvml", "cryptography", "tensorrt", "jtop"}

imported, needs = 0, []
for info in pkgutil.walk_packages(device_runtime.__path__, "device_runtime."):
    if info.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(info.name)
        imported += 1
    except ImportError as exc:
        if getattr(exc, "name", None) in THIRD_PARTY:
            needs.append("%s (needs %s)" % (info.name, exc.name))
        else:
            raise
print("imported %d device runtime modules%s" % (imported, "; at import time " + ", ".join(needs) if needs else ""))


def call(sock, decoder, request_id, method, params=None):
    sock.sendall(protocol.encode(protocol.Request(request_id, method, params or {})))
    while True:
        data = sock.recv(65536)
        assert data, "daemon closed the connection"
        for frame in decoder.feed(data):
            message = protocol.decode(frame)
            if isinstance(message, (protocol.Response, protocol.ErrorReply)) and message.id == request_id:
                assert isinstance(message, protocol.Response), message
                return message.result


tmp = tempfile.mkdtemp(prefix="eoc-py38-")
sock_path = os.path.join(tmp, "rt", "edge-runtime.sock")
try:
    start_daemon(sock_path, os.path.join(tmp, "root"), ["--rate", "10"])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(20)
    sock.connect(sock_path)
    decoder = protocol.FrameDecoder()
    sock.sendall(protocol.encode(protocol.Hello(1, protocol.PROTOCOL_VERSION, "py38-smoke")))
    welcome = protocol.decode(next(iter(decoder.feed(sock.recv(65536)))))
    assert isinstance(welcome, protocol.Welcome), welcome
    table = call(sock, decoder, 2, "telemetry.describe")
    health = call(sock, decoder, 3, "health.run")
    state = call(sock, decoder, 4, "device.state")
    with LatencyReporter("smoke", socket_path=os.path.join(tmp, "rt", "latency.sock")) as reporter:
        reporter.record(0.004)
    sock.close()
    print("daemon under Python %s: %d metrics, health %s, %d collectors" % (
        sys.version.split()[0], len(table["metrics"]), health["overall"], len(state["collectors"])))
finally:
    subprocess.run([sys.executable, "-m", "device_runtime", "stop", "--socket", sock_path],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    shutil.rmtree(tmp, ignore_errors=True)
print("device runtime OK on Python %s" % sys.version.split()[0])
