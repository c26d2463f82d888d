"""The built-in device's first launch: the demo model deployed as a real, signed package and the
latency probe turned on, so a newcomer sees Models, the probe and the latency chart alive at once
instead of "No models yet".

It happens once per local store: a store whose history already names the demo model (deployed,
then removed or replaced by the user) is left as it is. The package is signed by a key of this
console (``local-demo`` in its key folder) that the local device is told to trust.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from console.core.devices.keys import KeyStore
from console.core.devices.session import DeviceSession
from console.core.env import ConsoleEnv
from console.core.models.deploy import Deploy, PackageBuild
from console.core.models.store_client import StoreClient
from console.core.telemetry.latency import set_probe
from device_runtime.demo_model import DEMO_FILE, DEMO_NAME
from device_runtime.protocol import (
    STORE_ACTION_SUCCEEDED,
    STORE_HISTORY,
    STORE_KEYS_TRUST,
    STORE_MODELS,
    Empty,
    StoreHistoryQuery,
    StoreKey,
)

DEMO_KEY = "local-demo"
DEMO_VERSION = "1.0.0"
PROBE_RATE_HZ = 2.0
DEMO_WAIT_S = 60.0  # the local runtime writes the demo model in the background at its first start


class FirstLaunchError(Exception):
    """The demo could not be set up; the message says what happened and what to do."""


def demo_model_file(env: ConsoleEnv) -> Path:
    return env.local_root / "demo" / DEMO_FILE


def needs_demo(session: DeviceSession) -> bool:
    """True for a local store that holds no model and never held the demo model."""
    models = session.call(STORE_MODELS, Empty())
    if models.models:
        return False
    history = session.call(STORE_HISTORY, StoreHistoryQuery(DEMO_NAME, limit=1))
    return not history.entries


def demo_key(env: ConsoleEnv) -> tuple[str, object]:
    """This console's demo signing key (made on first use): its public line and private key."""
    keys = KeyStore(env.config_dir / "keys")
    if not any(k.name == DEMO_KEY and k.private_path is not None for k in keys.list()):
        keys.new(DEMO_KEY, "edge-console demo key")
    return keys.export(DEMO_KEY), keys.private_key(DEMO_KEY)


def set_up_demo(session: DeviceSession, env: ConsoleEnv, clock: Callable[[], float] = time.monotonic,
                pause: Callable[[float], None] = time.sleep) -> str:
    """Deploy the demo model and turn the probe on; returns what was done, in a sentence.
    Raises FirstLaunchError; the device's own errors pass as DeviceError."""
    caps = session.capabilities
    # Where the daemon that answered writes it (a daemon started for another data folder has its own).
    model = Path(caps.demo_model) if caps is not None and caps.demo_model else demo_model_file(env)
    deadline = clock() + DEMO_WAIT_S
    while not model.is_file():  # the runtime is still writing it: a file, so nothing to be told by
        if clock() > deadline:
            raise FirstLaunchError("the local runtime did not write its demo model (%s) within %.0f s; see "
                                   "edge-runtime doctor" % (model, DEMO_WAIT_S))
        pause(0.25)
    public, private = demo_key(env)
    session.call(STORE_KEYS_TRUST, StoreKey(public, env.operator))
    scratch = env.data_dir / "demo"  # the package waits here until the device holds it
    scratch.mkdir(parents=True, exist_ok=True)
    build = PackageBuild(DEMO_NAME, DEMO_VERSION, env.operator, private)
    action = Deploy(StoreClient(session, env.operator), model, build, scratch).run(why="first launch: the demo model")
    if action.state != STORE_ACTION_SUCCEEDED or action.result != "committed":
        raise FirstLaunchError("the demo model could not be deployed: %s" % (action.message or action.result))
    set_probe(session, DEMO_NAME, PROBE_RATE_HZ)
    return "%s %s is deployed (signed by this console's %s key) and the latency probe runs it at %g Hz" % (
        DEMO_NAME, DEMO_VERSION, DEMO_KEY, PROBE_RATE_HZ)
