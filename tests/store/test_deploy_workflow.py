"""The deploy workflow of console/core without Qt or edgectl, on a real local daemon: the events a
listener hears and their order, the preview before anything is sent, a stop that leaves nothing
half-deployed (and resumes), and a refusal in the words the GUI and edgectl show."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.app import ConsoleCore
from console.core.devices.session import DeviceSession
from console.core.env import ConsoleEnv
from console.core.models.deploy import (
    Deploy,
    DeployCancelled,
    DeployEvent,
    Phase,
    device_versions,
    onnx_build,
    preview_onnx,
    trusted_keys,
)
from console.core.models.packages import PackageError
from console.core.models.store_client import StoreClient
from console.core.models.tracker import explain_action, succeeded
from device_runtime.package_format.signing import parse_public_key
from device_runtime.protocol import STORE_UPLOAD_CHUNK
from tests.support.store import edgectl, make_onnx, make_package, public_line, snapshot

WHO = "tests"
KEY_ID = parse_public_key(public_line()).key_id


@pytest.fixture
def session(console_env: ConsoleEnv) -> Iterator[DeviceSession]:
    core = ConsoleCore(console_env)
    session = core.session("local")
    session.connect()
    yield session
    core.close()


def _phases(events: list[DeployEvent]) -> list[Phase]:
    """The phases in order, each run of one phase (SENT, ACTIVATING) counted once."""
    order: list[Phase] = []
    for event in events:
        if not order or order[-1] is not event.phase:
            order.append(event.phase)
    return order


def test_an_onnx_model_is_packaged_uploaded_and_activated_with_its_events_in_order(
        session: DeviceSession, tmp_path: Path) -> None:
    model = make_onnx(tmp_path / "Front Camera.onnx", seed=1)
    client = StoreClient(session, WHO)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    build = onnx_build(model, WHO, device_versions(session, "front-camera"))
    assert (build.name, build.version) == ("front-camera", "1.0.0")
    events: list[DeployEvent] = []
    action = Deploy(client, model, build, scratch, events.append).run(why="first")
    assert succeeded(action), action.message
    assert _phases(events) == [Phase.PACKAGING, Phase.PACKAGED, Phase.UPLOADING, Phase.RESUMED, Phase.SENT,
                               Phase.ACTIVATING, Phase.FINISHED]
    assert events[0].words == "packaging Front Camera.onnx as front-camera 1.0.0"
    assert events[1].words == "packaged Front Camera.onnx as front-camera 1.0.0 (unsigned)"
    written = events[1].package
    assert written is not None and written.parent == scratch
    uploading = events[2]
    assert uploading.words == "uploading front-camera-1.0.0.tar.gz" and uploading.total > 0
    assert events[3].done == 0  # nothing of it was on the device before
    sent = [e for e in events if e.phase is Phase.SENT]
    assert [e.done for e in sent] == sorted(e.done for e in sent) and sent[-1].done == sent[-1].total
    assert sent[-1].words.startswith("front-camera-1.0.0.tar.gz is on %s" % session.name)
    stages = [e.words for e in events if e.phase is Phase.ACTIVATING]
    assert any(s.startswith("loading front-camera 1.0.0 and running a warm-up inference") for s in stages)
    assert any(s.startswith("health check") for s in stages)
    assert events[-1].action == action and events[-1].words == action.message
    assert not written.exists()  # the device holds it: the copy kept for a resume is gone

    versions = device_versions(session, "front-camera")
    assert versions is not None and versions.active == "1.0.0"
    again = onnx_build(model, WHO, versions)
    assert (again.name, again.version) == ("front-camera", "1.0.1")  # the next patch version
    assert succeeded(Deploy(client, model, again, scratch).run())
    versions = device_versions(session, "front-camera")
    assert versions is not None and (versions.active, versions.previous) == ("1.0.1", "1.0.0")


def test_the_preview_says_what_the_device_will_get_before_anything_is_sent(
        session: DeviceSession, console_env: ConsoleEnv, tmp_path: Path) -> None:
    client = StoreClient(session, WHO)
    first = make_package(tmp_path, "detector", "1.0.0", signed=False, seed=1)
    assert succeeded(Deploy(client, first, None, None).run())
    package = make_package(tmp_path, "detector", "1.1.0", signed=True, seed=2)
    before = snapshot(console_env.local_root / "incoming")
    preview = Deploy(client, package, None, None).ask_preview()
    assert (preview.kind, preview.name, preview.version) == ("package", "detector", "1.1.0")
    assert (preview.replaces, preview.exists) == ("1.0.0", False)
    assert (preview.signer, preview.trusted) == (KEY_ID, False)  # the device trusts no key yet
    assert preview.size_bytes == package.stat().st_size
    assert [(t.name, t.dtype, t.shape) for t in preview.inputs] == [("x", "float32", ["batch", 8])]
    assert [(t.name, t.dtype, t.shape) for t in preview.outputs] == [("y", "float32", ["batch", 4])]
    assert preview.lines("lab") == [
        "deploying detector 1.1.0 to lab: replaces detector 1.0.0 (it stays active if anything fails)",
        "  %s, signed by key %s, which the device does not trust: it will be refused" % (
            preview.about().split(" · ")[-2], KEY_ID),
        "  input  x float32 ?x8",
        "  output y float32 ?x4",
    ]
    assert preview.question("lab") == ("Deploy detector 1.1.0 to lab? It is verified, loaded and switched in, then "
                                       "health-checked; if anything fails, 1.0.0 stays active.")
    assert snapshot(console_env.local_root / "incoming") == before  # a preview sends nothing

    model = make_onnx(tmp_path / "detector.onnx", seed=3)
    build = onnx_build(model, WHO, device_versions(session, "detector"), key=None)
    onnx_preview = preview_onnx(model, build, device_versions(session, "detector"), trusted_keys(session))
    assert (onnx_preview.kind, onnx_preview.version, onnx_preview.replaces) == ("onnx", "1.0.1", "1.0.0")
    assert (onnx_preview.signer, onnx_preview.trusted) == (None, None)
    assert [t.name for t in onnx_preview.inputs] == ["x"] and [t.name for t in onnx_preview.outputs] == ["y"]


def test_a_stopped_upload_leaves_nothing_deployed_and_the_same_package_resumes(
        session: DeviceSession, console_env: ConsoleEnv, tmp_path: Path) -> None:
    client = StoreClient(session, WHO)
    root = console_env.local_root
    model = make_onnx(tmp_path / "detector.onnx", seed=4, padding_bytes=3 * STORE_UPLOAD_CHUNK)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = snapshot(root / "models"), snapshot(root / "active")

    early = Deploy(client, model, onnx_build(model, WHO), scratch)
    early.cancel()
    with pytest.raises(DeployCancelled, match="stopped before packaging; nothing was sent"):
        early.run()
    assert not list(scratch.iterdir())

    events: list[DeployEvent] = []

    def stop_at_the_first_block(event: DeployEvent) -> None:
        events.append(event)
        if event.phase is Phase.SENT:
            deploy.cancel()

    deploy = Deploy(client, model, onnx_build(model, WHO), scratch, stop_at_the_first_block)
    stopped = "the upload was stopped at %.1f of .* MB; the device keeps what it received" % (STORE_UPLOAD_CHUNK / 1e6)
    with pytest.raises(DeployCancelled, match=stopped):
        deploy.run()
    assert events[-1].phase is Phase.SENT and events[-1].done == STORE_UPLOAD_CHUNK
    assert not any(e.phase in (Phase.ACTIVATING, Phase.FINISHED) for e in events)
    assert (snapshot(root / "models"), snapshot(root / "active")) == before
    assert device_versions(session, "detector") is None or not device_versions(session, "detector").versions
    assert [p.stat().st_size for p in (root / "incoming").glob("*.part")] == [STORE_UPLOAD_CHUNK]
    package = next(e.package for e in events if e.phase is Phase.PACKAGED)
    assert package is not None and package.is_file()  # kept: deploying it again resumes

    resumed: list[DeployEvent] = []
    action = Deploy(client, package, None, None, resumed.append).run()
    assert succeeded(action), action.message
    assert next(e for e in resumed if e.phase is Phase.RESUMED).done == STORE_UPLOAD_CHUNK
    assert not list((root / "incoming").glob("*.part"))
    versions = device_versions(session, "detector")
    assert versions is not None and versions.active == "1.0.0"


def test_a_refused_package_ends_with_the_device_s_code_and_words(
        session: DeviceSession, console_env: ConsoleEnv, tmp_path: Path) -> None:
    client = StoreClient(session, WHO)
    root = console_env.local_root
    assert succeeded(Deploy(client, make_package(tmp_path, "detector", "1.0.0", signed=False), None, None).run())
    before = snapshot(root / "models"), snapshot(root / "active")
    events: list[DeployEvent] = []
    action = Deploy(client, make_package(tmp_path, "detector", "2.0.0", signed=True, seed=5), None, None,
                    events.append).run()
    assert not succeeded(action) and action.code == "untrusted_key"
    assert events[-1].phase is Phase.FINISHED and events[-1].action == action
    refusal = explain_action(action, "lab")
    assert refusal.what == "The package is signed with a key this device does not trust."
    assert refusal.todo.startswith("Trust that public key on the device (edgectl --device lab keys trust KEY.pub)")
    assert "which this device does not trust" in refusal.details
    assert (snapshot(root / "models"), snapshot(root / "active")) == before

    # A model the warm-up cannot size is refused here, before a byte is sent.
    from tests.zoo import BY_NAME

    dynamic = BY_NAME["rapidocr-cls-v2"].path()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    refused: list[DeployEvent] = []
    with pytest.raises(PackageError, match="the warm-up cannot choose sizes"):
        Deploy(client, dynamic, onnx_build(dynamic, WHO), scratch, refused.append).run()
    assert [e.phase for e in refused] == [Phase.PACKAGING]
    assert not list(scratch.iterdir())


def test_edgectl_deploy_prints_the_preview_before_it_sends(console_env: ConsoleEnv, tmp_path: Path) -> None:
    model = make_onnx(tmp_path / "Front Camera.onnx", seed=6)
    code, out, err = edgectl(console_env, "deploy", str(model))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:2] == ["packaged Front Camera.onnx as front-camera 1.0.0 (unsigned)",
                         "deploying front-camera 1.0.0 to local: nothing of front-camera is active yet"]
    assert lines[2].endswith(", unsigned (a device that requires signatures refuses it)")
    assert lines[3:5] == ["  input  x float32 ?x8", "  output y float32 ?x4"]
    assert lines[5].startswith("uploading ")
    package = make_package(tmp_path, "front-camera", "2.0.0", signed=False, seed=7)
    code, out, err = edgectl(console_env, "deploy", str(package))
    assert code == 0, err
    assert out.splitlines()[0] == ("deploying front-camera 2.0.0 to local: replaces front-camera 1.0.0 (it stays "
                                   "active if anything fails)")
