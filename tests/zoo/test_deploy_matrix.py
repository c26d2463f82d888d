"""Every deploy-side verb on every zoo model, on a real local daemon, against the outcome written beside it.

``expect_deploy.json`` holds, per model, the arguments a user would give (``--shape``, a sample's arrays)
and each verb's expected outcome: ``"works"``, or ``{"refused": [words]}`` where the words name the reason
and the fix. ``package`` builds without any warm-up argument (so dynamic models must be refused, naming
the flag); ``deploy`` and the verbs after it use the arguments. An outcome other than the one written
fails, with the device's own words.
"""

from __future__ import annotations

import json
import queue
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from console.cli.main import ExitCode
from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv
from console.core.settings import LOCAL_DEVICE
from device_runtime.protocol import TOPIC_LATENCY, TOPIC_PROBE, Event, LatencyWindows, ProbeStatus
from tests.support.daemons import stop_daemon
from tests.support.store import edgectl
from tests.zoo import BY_NAME, ZOO, expectations

EXPECT = expectations("deploy")
VERBS = ("validate", "package", "deploy", "rollback", "probe", "remove")
PROBE_WAIT_S = 60.0


@pytest.fixture(scope="module")
def zoo_env() -> Iterator[ConsoleEnv]:
    """One local daemon for the whole matrix: starting one per model would cost more than the verbs."""
    with tempfile.TemporaryDirectory(prefix="eoc-") as tmp:
        root = Path(tmp)
        env = ConsoleEnv(config_dir=root / "cfg", data_dir=root / "data", runtime_dir=root / "run",
                         environ={"HOME": str(root)})
        yield env
        stop_daemon(env.local_socket)


def _sample(spec: dict[str, Any], path: Path) -> Path:
    arrays = {}
    for name, array in spec.items():
        value = np.asarray(array["value"], dtype=array["dtype"])
        arrays[name] = np.broadcast_to(value, array.get("shape", value.shape)).copy()
    np.savez(path, **arrays)
    return path


def _outcome(code: int, out: str, err: str) -> tuple[str, str]:
    return ("works", out) if code == ExitCode.OK else ("refused", err + out)


def _probe(env: ConsoleEnv, name: str, shapes: list[str]) -> tuple[str, str]:
    """Turn the probe on and wait for the device to say how it went: a latency window of the probe's
    source (it ran) or a probe status of state failed (why not)."""
    core = ConsoleCore(env)
    session = core.session(LOCAL_DEVICE)
    heard: queue.Queue[Event] = queue.Queue()
    try:
        session.connect()
        session.follow([TOPIC_LATENCY, TOPIC_PROBE], heard.put, subscribe=True)
        flags = [flag for shape in shapes for flag in ("--shape", shape)]
        code, out, err = edgectl(env, "probe", "--model", name, "--rate", "10", "--json", *flags)
        if code != ExitCode.OK:
            return _outcome(code, out, err)
        deadline = time.monotonic() + PROBE_WAIT_S
        while True:
            try:
                event = heard.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return "refused", "the probe ran no inference in %.0f s" % PROBE_WAIT_S
            if event.topic == TOPIC_PROBE:
                status = ProbeStatus.from_wire(event.data)
                if status.model == name and status.state == "failed":
                    return "refused", status.reason
                continue
            runs = [w.count for w in LatencyWindows.from_wire(event.data).windows if w.source == "probe:" + name]
            if runs and max(runs) >= 1:
                return "works", "%d inferences" % max(runs)
    finally:
        edgectl(env, "probe", "--off")
        core.close()


def _run_verbs(env: ConsoleEnv, model_name: str, scratch: Path) -> dict[str, tuple[str, str]]:
    model = BY_NAME[model_name]
    expect = EXPECT[model_name]
    path = model.path()
    name = "zoo-" + model_name
    shapes = list(expect.get("shape", []))
    flags = [flag for shape in shapes for flag in ("--shape", shape)]
    if "sample" in expect:
        flags += ["--sample", str(_sample(expect["sample"], scratch / "sample.npz"))]
    got: dict[str, tuple[str, str]] = {}
    got["validate"] = _outcome(*edgectl(env, "validate", str(path)))
    got["package"] = _outcome(*edgectl(env, "package", "build", str(path), "--name", name, "-o",
                                       str(scratch / "plain.tar.gz")))
    if got["package"][0] == "refused":
        assert not (scratch / "plain.tar.gz").exists(), "a refused build left a package behind"
    got["deploy"] = _outcome(*edgectl(env, "deploy", str(path), "--name", name, "--version", "1.0.0", *flags))
    if got["deploy"][0] == "works":
        again = edgectl(env, "deploy", str(path), "--name", name, "--version", "1.0.1", *flags)
        assert again[0] == ExitCode.OK, again
        got["rollback"] = _outcome(*edgectl(env, "rollback", name))
        got["probe"] = _probe(env, name, shapes)
        active = json.loads(edgectl(env, "versions", name, "--json")[1])["active"]
        got["remove"] = _outcome(*edgectl(env, "remove", name, "--confirm-active", active))
    else:
        assert json.loads(edgectl(env, "versions", name, "--json")[1])["active"] is None
        got["remove"] = _outcome(*edgectl(env, "remove", name))
    return got


def _matches(expected: Any, got: tuple[str, str]) -> bool:
    if expected == "works":
        return got[0] == "works"
    return got[0] == "refused" and all(word in got[1] for word in expected["refused"])


def test_every_zoo_model_has_deploy_expectations() -> None:
    assert sorted(EXPECT) == sorted(m.name for m in ZOO)
    for name, expect in EXPECT.items():
        assert set(expect) <= {*VERBS, "shape", "sample", "why"}, name
        for verb in ("validate", "package", "deploy", "remove"):
            assert verb in expect, (name, verb)


@pytest.mark.slow
@pytest.mark.parametrize("model_name", [m.name for m in ZOO])
def test_deploy_verbs_on_a_zoo_model(zoo_env: ConsoleEnv, tmp_path: Path, model_name: str) -> None:
    got = _run_verbs(zoo_env, model_name, tmp_path)
    expect = EXPECT[model_name]
    wrong = ["%s: expected %s, got %s: %s" % (verb, json.dumps(expect.get(verb)), outcome[0], outcome[1][-600:])
             for verb, outcome in got.items() if not _matches(expect.get(verb), outcome)]
    missing = [verb for verb in VERBS if verb in expect and verb not in got]
    assert not wrong and not missing, "\n".join(wrong + ["%s: not reached" % v for v in missing])
