"""Import every device-runtime module that needs no third-party package and round-trip the
protocol, under whatever (old) Python runs this file."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

from device_runtime import capabilities, paths, protocol  # noqa: E402
from device_runtime.server import bridge, session  # noqa: E402, F401

message = protocol.Welcome(1, protocol.PROTOCOL_VERSION, "x", capabilities.probe())
assert protocol.decode(protocol.encode(message)) == message
assert paths.lock_path("/a.sock") == "/a.sock.lock"
print("device runtime OK on Python %s" % sys.version.split()[0])
