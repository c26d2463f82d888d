"""Jobs on an SSH device use files from this computer: the console sends them into the runtime's
uploads area (over SFTP), the device verifies them, and a file it already holds is not sent again."""

from __future__ import annotations

import json
import time
from pathlib import Path

from console.core.devices.session import DeviceSession, make_transport
from console.core.transfers.files import stage_file
from device_runtime.demo_model import write_demo_model
from device_runtime.protocol import Record
from tests.support.ssh import SshWorld
from tests.support.ssh_flows import _destination, _run, _use_client_key


def test_edgectl_validate_sends_the_model_to_the_ssh_device(ssh_world: SshWorld, short_tmp: Path) -> None:
    _use_client_key(ssh_world)
    ssh_world.trust(ssh_world.servers[0])
    model = Path(write_demo_model(str(short_tmp / "laptop" / "detector.onnx")))
    code, out, err = _run(ssh_world.env, "--device", _destination(ssh_world), "validate", str(model), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] is True and report["inputs"][0]["name"] == "image"
    # The job read the device's verified copy, not the laptop's path.
    assert report["model"] != str(model) and "/uploads/" in report["model"]
    assert report["model"].endswith("/detector.onnx")

    code, _, err = _run(ssh_world.env, "--device", _destination(ssh_world), "quantize", str(model), "--fp16",
                        "-o", "relative.onnx")
    assert code != 0 and "give it absolute" in err


def test_a_file_the_device_holds_is_not_sent_again(ssh_world: SshWorld, short_tmp: Path) -> None:
    ssh_world.trust(ssh_world.servers[0])
    data = short_tmp / "calib.npz"
    data.write_bytes(b"x" * 300_000)
    entry = ssh_world.entry()
    session = DeviceSession(entry, make_transport(entry, ssh_world.env), time.time)
    methods: list[str] = []
    request = session.request

    def recording(method: str, params: Record, timeout: float = 30.0) -> Record:
        methods.append(method)
        return request(method, params, timeout=timeout)

    session.request = recording  # type: ignore[method-assign]
    try:
        session.connect()
        first = stage_file(session, data)
        assert methods == ["files.begin", "files.begin", "files.finish"]  # bytes over SFTP, then verified
        assert Path(first).read_bytes() == data.read_bytes()  # the loopback device's own file system
        methods.clear()
        assert stage_file(session, data) == first
        assert methods == ["files.begin"]
    finally:
        session.close()
