"""Tables derived from every method declaration, and every event topic: built once all the
protocol's modules have declared theirs."""

from __future__ import annotations

from typing import Dict, FrozenSet, Tuple

# The store's and the probe's methods are declared after methods.py's: all of them are in DECLARED here.
from device_runtime.protocol import methods, probe, store  # noqa: F401
from device_runtime.protocol.core import DECLARED
from device_runtime.protocol.messages import TOPIC_ALERT, TOPIC_HEALTH, TOPIC_JOB, TOPIC_JOB_LOG, TOPIC_LATENCY
from device_runtime.protocol.probe import TOPIC_PROBE
from device_runtime.protocol.store import TOPIC_STORE

EVENT_TOPICS: Tuple[str, ...] = (TOPIC_ALERT, TOPIC_JOB, TOPIC_JOB_LOG, TOPIC_LATENCY, TOPIC_HEALTH, TOPIC_STORE,
                                 TOPIC_PROBE)

# Methods that change the device's state. The daemon keeps its reply to each of them for a while,
# by (console instance, request id), and answers a retry of the same id with that reply instead
# of acting again; a console sends such a request again (same id) when the link dropped before
# the reply came. Reads and this connection's subscriptions are not in here: they are simply redone.
REPLAYED_METHODS: FrozenSet[str] = frozenset(name for name, method in DECLARED.items() if method.replayed)
# protocol method -> the action word its audit entry records (derived from the declarations).
AUDITED_METHODS: Dict[str, str] = {name: method.audit for name, method in DECLARED.items() if method.audit is not None}
# Methods only an admin may call: those that change what the device accepts (a key, the signature policy).
ADMIN_METHODS: FrozenSet[str] = frozenset(name for name, method in DECLARED.items() if method.admin)
