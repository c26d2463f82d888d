"""Deploy to an SSH device: the package's bytes go into the store's partial file over SFTP (no
base64 chunks), the device hashes and verifies them, and a signed package commits; a device
that requires signatures refuses an unsigned one and keeps its store as it was."""

from __future__ import annotations

import time
from pathlib import Path

from console.core.devices.keys import KeyStore
from console.core.devices.session import DeviceSession, make_transport
from console.core.models.packages import build_package
from console.core.models.store_client import StoreClient
from device_runtime.protocol import Empty, Record, StoreKey, StoreModelRef, StoreModels, StoreVersions
from device_runtime.store.receiver import MIN_BYTES
from tests.support.ssh import SshWorld
from tests.support.store import make_onnx


def test_a_signed_package_deploys_over_sftp_and_an_unsigned_one_is_refused(ssh_world: SshWorld,
                                                                          short_tmp: Path) -> None:
    ssh_world.trust(ssh_world.servers[0])
    keys = KeyStore(ssh_world.env.config_dir / "keys")
    keys.new("lab")
    model = make_onnx(short_tmp / "m.onnx", 1, padding_bytes=3 << 20)
    signed = short_tmp / "detector-1.0.0.tar.gz"
    build_package(model, signed, "detector", "1.0.0", "lab", key=keys.private_key("lab"))
    unsigned = short_tmp / "detector-1.1.0.tar.gz"
    build_package(make_onnx(short_tmp / "n.onnx", 2), unsigned, "detector", "1.1.0", "lab")

    entry = ssh_world.entry()
    session = DeviceSession(entry, make_transport(entry, ssh_world.env), time.time)
    methods: list[str] = []
    request = session.request

    def recording(method: str, params: Record, timeout: float = 30.0) -> Record:
        methods.append(method)
        return request(method, params, timeout=timeout)

    session.request = recording  # type: ignore[method-assign]
    sent: list[tuple[int, int]] = []
    try:
        session.connect()
        session.request("store.keys.trust", StoreKey(keys.export("lab"), "test"))
        client = StoreClient(session, "test")
        action = client.deploy(signed, upload_progress=lambda done, total: sent.append((done, total)))
        assert action.result == "committed", action.message
        assert sent and sent[-1] == (signed.stat().st_size, signed.stat().st_size)
        # The bytes went over SFTP into the device's partial file: no base64 chunk was sent.
        assert "store.upload.begin" in methods and "store.upload.finish" in methods
        assert "store.upload.chunk" not in methods

        refused = client.deploy(unsigned)
        assert refused.result != "committed" and "sign" in refused.message.lower()
        models = session.request("store.models", Empty())
        assert isinstance(models, StoreModels)
        (detector,) = [m for m in models.models if m.name == "detector"]
        assert detector.active == "1.0.0"
    finally:
        session.close()


def test_a_big_package_is_unpacked_and_loaded_while_it_arrives(ssh_world: SshWorld, short_tmp: Path) -> None:
    """Above the receiving threshold the device follows the upload as it arrives: the finish takes
    the child's sha256, the import commits what it staged and the activation needs no second load.
    A big unsigned package is still refused, in the usual words, with nothing left behind."""
    ssh_world.trust(ssh_world.servers[0])
    keys = KeyStore(ssh_world.env.config_dir / "keys")
    keys.new("lab")
    padding = MIN_BYTES + (1 << 20)
    signed = short_tmp / "detector-2.0.0.tar.gz"
    build_package(make_onnx(short_tmp / "m.onnx", 1, padding_bytes=padding), signed, "detector", "2.0.0", "lab",
                  key=keys.private_key("lab"))
    unsigned = short_tmp / "detector-2.1.0.tar.gz"
    build_package(make_onnx(short_tmp / "n.onnx", 2, padding_bytes=padding), unsigned, "detector", "2.1.0", "lab")
    entry = ssh_world.entry()
    session = DeviceSession(entry, make_transport(entry, ssh_world.env), time.time)
    stages: list[str] = []
    try:
        session.connect()
        session.request("store.keys.trust", StoreKey(keys.export("lab"), "test"))
        client = StoreClient(session, "test")
        action = client.deploy(signed, progress=lambda a: stages.append(a.stage))
        assert action.result == "committed", action.message
        assert "unpacked and checked while it arrived" in stages
        assert any("as it arrived" in note for note in action.notes), action.notes
        assert any("load check skipped" in note for note in action.notes), action.notes

        refused = client.deploy(unsigned)
        assert refused.result != "committed" and "sign" in refused.message.lower()
        versions = session.request("store.versions", StoreModelRef("detector"))
        assert isinstance(versions, StoreVersions)
        assert versions.active == "2.0.0" and [v.version for v in versions.versions] == ["2.0.0"]
    finally:
        session.close()
