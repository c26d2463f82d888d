"""The messages on the wire (handshake, requests, replies, events) and the records they carry:
the device's capabilities, ``ping``'s reply and event subscriptions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional, Type, TypeVar, Union

from device_runtime.protocol.core import Record, _record, wire_key

# ---------------------------------------------------------------------------------------------
# Records the handshake carries


@_record
@dataclass
class GpuInfo(Record):
    index: int
    name: str
    driver: Optional[str] = None
    memory_total_mb: Optional[float] = None
    compute_capability: Optional[str] = None


@_record
@dataclass
class Capabilities(Record):
    """What the device is and what it can run; sent in the handshake."""

    hostname: str
    # The board's model (/proc/device-tree/model) or the host's product name; "model" on the wire.
    board_model: str = field(metadata=wire_key("model"))
    os: str
    arch: str
    python: str
    cpu_count: int
    memory_total_mb: float
    gpus: List[GpuInfo] = field(default_factory=list)
    l4t: Optional[str] = None
    jetpack: Optional[str] = None
    cuda: Optional[str] = None
    tensorrt: Optional[str] = None
    onnxruntime: Optional[str] = None
    backends: List[str] = field(default_factory=list)
    dla_cores: int = 0
    power_mode: Optional[str] = None
    demo_model: Optional[str] = None
    serial: Optional[str] = None  # the board's serial number (device tree or DMI); None when unreadable
    board: Optional[str] = None  # the Jetson module derived from the device tree's compatible ("Jetson Orin NX 8GB")


# ---------------------------------------------------------------------------------------------
# Messages


class Message(Record):
    TYPE: ClassVar[str] = ""


_MESSAGES: Dict[str, Type[Message]] = {}


M = TypeVar("M", bound=Message)


def _message(cls: Type[M]) -> Type[M]:
    _MESSAGES[cls.TYPE] = cls
    return _record(cls)


@_message
@dataclass
class Hello(Message):
    """First message from the console: which protocol versions it speaks."""

    id: int
    protocol: int
    client: str
    min_protocol: int = 1
    # A token naming this console process (protocol 2): request ids are unique under it, so the
    # daemon can recognise a request sent again after its reply was lost. None from older consoles.
    instance: Optional[str] = None
    TYPE: ClassVar[str] = "hello"


@_message
@dataclass
class Welcome(Message):
    """The daemon's answer to :class:`Hello`."""

    id: int
    protocol: int
    runtime_version: str
    capabilities: Capabilities
    TYPE: ClassVar[str] = "welcome"


@_message
@dataclass
class Request(Message):
    """A call of ``method`` with typed ``params`` (see :data:`METHODS`)."""

    id: int
    method: str
    params: Dict[str, Any] = field(default_factory=dict)
    TYPE: ClassVar[str] = "request"


@_message
@dataclass
class Response(Message):
    id: int
    result: Dict[str, Any] = field(default_factory=dict)
    TYPE: ClassVar[str] = "response"


@_message
@dataclass
class ErrorReply(Message):
    """A refused frame or a failed request. ``id`` is null when the frame had none."""

    code: str
    message: str
    id: Optional[int] = None
    detail: Optional[str] = None
    TYPE: ClassVar[str] = "error"


@_message
@dataclass
class Event(Message):
    """Pushed by the daemon on a subscription."""

    topic: str
    data: Dict[str, Any] = field(default_factory=dict)
    TYPE: ClassVar[str] = "event"


AnyMessage = Union[Hello, Welcome, Request, Response, ErrorReply, Event]


@_record
@dataclass
class Pong(Record):
    t: float


# ---------------------------------------------------------------------------------------------
# Event subscriptions (alerts, jobs). Telemetry samples have their own rate-controlled stream.

TOPIC_ALERT = "alert"  # data: AlertEvent, sent when an alert starts and again when it ends
TOPIC_JOB = "job"  # data: JobInfo, sent on every state or progress change
TOPIC_JOB_LOG = "job.log"  # data: JobLog, new log lines of a job
TOPIC_LATENCY = "latency"  # data: LatencyWindows, once a second while inference latency is reported
TOPIC_HEALTH = "health"  # data: HealthReport, after every periodic or requested health run


@_record
@dataclass
class SubscribeEvents(Record):
    topics: List[str] = field(default_factory=list)
