"""The console <-> runtime protocol: typed messages, one codec, no I/O.

Frames are newline-delimited JSON objects, each with a ``type``. Requests carry an ``id``
that the reply echoes; the daemon also pushes ``event`` messages on subscriptions.
Everything that crosses the wire is declared here; nothing is ever unpickled.

This module must import on Python 3.8 and may only use the standard library.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Dict, FrozenSet, Generic, Iterator, List, Optional, Tuple, Type, TypeVar, Union

# 2: ``hello`` names the console instance, and the daemon replays its reply to a retried
#    request that changes state (see REPLAYED_METHODS) instead of acting twice.
# 3: a store upload may be named by the sender and get its sha256 with ``finish``
#    (``StoreUploadBegin.digest_at_end``), so a package is hashed while it is sent.
PROTOCOL_VERSION = 3
# The first version whose daemon replays replies: a console retries changing requests only then.
REPLAY_PROTOCOL_VERSION = 2
# The first version whose daemon takes a store upload's sha256 at its end (StoreUploadFinish.sha256).
DIGEST_AT_END_PROTOCOL_VERSION = 3
# Oldest protocol version this side still speaks. Bumped only when a change breaks old peers.
MIN_PROTOCOL_VERSION = 1
# A frame larger than this is refused; its bytes are discarded without being buffered.
MAX_FRAME_BYTES = 1 << 20


class ErrorCode:
    """Machine-readable error codes carried in ``error`` replies."""

    BAD_FRAME = "bad_frame"  # not JSON, not an object, or not UTF-8
    FRAME_TOO_LARGE = "frame_too_large"
    UNKNOWN_TYPE = "unknown_type"
    BAD_FIELD = "bad_field"
    INCOMPATIBLE = "incompatible_protocol"
    NOT_READY = "handshake_required"
    UNKNOWN_METHOD = "unknown_method"
    FAILED = "failed"
    INTERNAL = "internal"
    TOO_MANY_CONNECTIONS = "too_many_connections"  # a per-user or overall connection limit; says which
    NOT_ALLOWED = "not_allowed"  # the method needs the admin role (see README: who can do what)


class ProtocolError(Exception):
    """A frame or message that cannot be accepted. ``code`` is an :class:`ErrorCode`."""

    def __init__(self, code: str, message: str, request_id: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


# ---------------------------------------------------------------------------------------------
# Field validation: records declare typed fields; decoding checks every one.

_JSON_SCALARS = (str, int, float, bool, type(None))


def _check_text(value: str, where: str) -> str:
    """JSON lets ``\\ud800`` through as a lone surrogate, which no file, log or child process
    can take: refused here, at the edge, instead of failing each time it is used later."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProtocolError(
            ErrorCode.BAD_FIELD,
            "%s is not valid Unicode text (character %d is a lone surrogate): send UTF-8 text"
            % (where, exc.start),
        ) from None
    return value


def repair_text(value: Any) -> Any:
    """``value`` with "?" in place of each lone surrogate in its strings (keys too): for text
    stored before the decoder refused it, so one old record cannot fail every read."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [repair_text(item) for item in value]
    if isinstance(value, dict):
        return {repair_text(key): repair_text(item) for key, item in value.items()}
    return value


def _check_json_value(value: Any, where: str = "value", depth: int = 0) -> None:
    if depth > 32:
        raise ProtocolError(ErrorCode.BAD_FIELD, "%s is nested too deeply" % where)
    if isinstance(value, float) and not math.isfinite(value):
        raise ProtocolError(ErrorCode.BAD_FIELD, "%s holds a non-finite number" % where)
    if isinstance(value, str):
        _check_text(value, where)
        return
    if isinstance(value, _JSON_SCALARS):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_value(item, "%s[%d]" % (where, i), depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ProtocolError(ErrorCode.BAD_FIELD, "%s keys must be strings" % where)
            _check_text(key, "a key of %s" % where)
            _check_json_value(item, "%s.%s" % (where, key), depth + 1)
        return
    raise ProtocolError(ErrorCode.BAD_FIELD, "%s has an unsupported type %s" % (where, type(value).__name__))


def _coerce(kind: str, value: Any, where: str) -> Any:
    """Check ``value`` against a small type language: str, int, float, bool, any, json,
    opt:<kind>, list:<kind>, map:<kind>, or a record name registered in ``_RECORDS``."""
    if kind.startswith("opt:"):
        return None if value is None else _coerce(kind[4:], value, where)
    if kind.startswith("list:"):
        if not isinstance(value, list):
            raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be a list" % where)
        return [_coerce(kind[5:], item, "%s[%d]" % (where, i)) for i, item in enumerate(value)]
    if kind.startswith("map:"):
        if not isinstance(value, dict):
            raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be an object" % where)
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ProtocolError(ErrorCode.BAD_FIELD, "%s keys must be strings" % where)
            _check_text(key, "a key of %s" % where)
            out[key] = _coerce(kind[4:], item, "%s.%s" % (where, key))
        return out
    if kind == "str":
        if not isinstance(value, str):
            raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be a string" % where)
        return _check_text(value, where)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be true or false" % where)
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be an integer" % where)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be a number" % where)
        if not math.isfinite(value):
            raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be finite" % where)
        return float(value)
    if kind in ("any", "json"):
        _check_json_value(value, where)
        return value
    record = _RECORDS.get(kind)
    if record is None:  # pragma: no cover - a programming error in this module
        raise AssertionError("unknown field kind %r" % kind)
    if not isinstance(value, dict):
        raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be an object" % where)
    return record.from_wire(value)


def _encode_value(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_wire()
    if isinstance(value, list):
        return [_encode_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode_value(v) for k, v in value.items()}
    return value


R = TypeVar("R", bound="Record")


class Record:
    """Base of every typed record. Subclasses are dataclasses registered with ``@_record``,
    which derives their ``KINDS`` map from the field annotations: each field's wire type in the
    small type language of :func:`_coerce`."""

    KINDS: ClassVar[Dict[str, str]] = {}

    def to_wire(self) -> Dict[str, Any]:
        return {f.name: _encode_value(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_wire(cls: Type[R], data: Dict[str, Any]) -> R:
        kwargs: Dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name in data:
                kwargs[f.name] = _coerce(cls.KINDS[f.name], data[f.name], f.name)
            elif _has_default(f):
                continue
            else:
                raise ProtocolError(ErrorCode.BAD_FIELD, "%s needs field %r" % (cls.__name__, f.name))
        return cls(**kwargs)


def _has_default(f: Any) -> bool:
    from dataclasses import MISSING

    return f.default is not MISSING or f.default_factory is not MISSING


_RECORDS: Dict[str, Type[Record]] = {}


_SCALAR_KINDS = ("str", "int", "float", "bool")
_WRAPPERS = (("Optional[", "opt:"), ("List[", "list:"), ("Dict[str,", "map:"))


def _wire_kind(annotation: Any) -> str:
    """A field's wire kind from its annotation, which is a string here (this module postpones
    annotations): ``Optional[X]`` is ``opt:X``, ``List[X]`` ``list:X``, ``Dict[str, X]``
    ``map:X``, ``Any`` ``json``; str, int, float, bool and record names stand for themselves."""
    if not isinstance(annotation, str):  # pragma: no cover - a programming error in this module
        raise AssertionError("record fields need postponed annotations, got %r" % (annotation,))
    text = annotation.replace(" ", "")
    for prefix, tag in _WRAPPERS:
        if text.startswith(prefix) and text.endswith("]"):
            return tag + _wire_kind(text[len(prefix):-1])
    if text == "Any":
        return "json"
    if text in _SCALAR_KINDS or text.isidentifier():
        return text  # a record named here may be declared further down: _coerce looks it up when used
    raise AssertionError("no wire kind for the annotation %r" % annotation)  # pragma: no cover


def _record(cls: Type[R]) -> Type[R]:
    cls.KINDS = {f.name: _wire_kind(f.type) for f in fields(cls)}  # type: ignore[arg-type]
    _RECORDS[cls.__name__] = cls
    return cls


P = TypeVar("P", bound=Record)
T = TypeVar("T", bound=Record)


class Method(Generic[P, T]):
    """One protocol method: its name, its params and result records and what it does to the device.

    ``changes_state``: the daemon keeps its reply for a retry of the same request id after a lost
    link (see :data:`REPLAYED_METHODS`). ``audit``: the action word the audit log records for it
    (None: not audited; a state-changing method is audited unless it is a later step of a transfer
    whose first step is). ``admin``: only an admin may call it. Declaring a method registers it in
    :data:`DECLARED` and :data:`METHODS`; a name declared twice is refused.
    """

    __slots__ = ("admin", "audit", "changes_state", "name", "params", "result")

    def __init__(self, name: str, params: Type[P], result: Type[T], changes_state: bool = False,
                 audit: Optional[str] = None, admin: bool = False) -> None:
        if name in DECLARED:
            raise ValueError("protocol method %r is declared twice" % name)
        if audit is not None and not changes_state:
            raise ValueError("%s is audited but declared as not changing state" % name)
        if admin and audit is None:
            raise ValueError("%s needs the admin role but is not audited" % name)
        self.name = name
        self.params = params
        self.result = result
        self.changes_state = changes_state
        self.audit = audit
        self.admin = admin
        DECLARED[name] = self
        METHODS[name] = (params, result)

    @property
    def replayed(self) -> bool:
        """A retry of the same request id gets the reply the daemon kept: state-changing methods."""
        return self.changes_state

    @property
    def audited(self) -> bool:
        return self.audit is not None

    def __repr__(self) -> str:
        return "Method(%r, %s, %s)" % (self.name, self.params.__name__, self.result.__name__)


# Every declared method by name, in declaration order.
DECLARED: Dict[str, Method[Any, Any]] = {}
# method name -> (params record, result record), derived from the declarations.
METHODS: Dict[str, Tuple[Type[Record], Type[Record]]] = {}


# ---------------------------------------------------------------------------------------------
# Shared records


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
    model: str  # board model (/proc/device-tree/model) or host product name
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


GAUGE = "gauge"
COUNTER = "counter"


@_record
@dataclass
class MetricSpec(Record):
    """One telemetry series, declared by its collector. The console builds charts, axes,
    units and CSV headers from these, never from strings in widgets."""

    name: str  # stable id, e.g. "cpu.core.3.load"
    label: str  # series label inside its chart, e.g. "core 3"
    unit: str  # "%", "MB", "°C", "B/s", "mW", "MHz"
    group: str  # dashboard section, e.g. "CPU"
    chart: str  # chart title inside the group, e.g. "Load per core"
    kind: str = GAUGE
    min: Optional[float] = None
    max: Optional[float] = None
    description: str = ""
    integer: bool = False  # counts and codes: shown without decimals
    labels: Dict[str, str] = field(default_factory=dict)  # codes that stand for a name ("2" -> "15W"): a mode


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


# ---------------------------------------------------------------------------------------------
# Typed request parameters and results, one record per method.


@_record
@dataclass
class Empty(Record):
    """No parameters, or nothing to return."""


@_record
@dataclass
class SubscribeTelemetry(Record):
    """Start (or change the rate of) this client's telemetry stream."""

    rate_hz: float = 2.0
    backfill_s: float = 0.0


@_record
@dataclass
class TelemetryTable(Record):
    metrics: List[MetricSpec]
    rate_hz: float = 2.0


@_record
@dataclass
class Sample(Record):
    """One telemetry sample: device wall time, sequence number and values by metric name.
    A metric missing from ``values`` was not available this time (never a fake zero)."""

    t: float
    seq: int
    values: Dict[str, float]


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
EVENT_TOPICS: Tuple[str, ...] = (TOPIC_ALERT, TOPIC_JOB, TOPIC_JOB_LOG, TOPIC_LATENCY, TOPIC_HEALTH)


@_record
@dataclass
class SubscribeEvents(Record):
    topics: List[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Inference latency: from the robot's own process (LatencyReporter) and from the latency probe.

LATENCY_STAGES = ("total", "preprocess", "infer", "postprocess")


@_record
@dataclass
class LatencyWindow(Record):
    """Latency statistics of one source and stage over the sliding window ending at ``t``."""

    source: str  # the model name the reporter gave, or "probe:<model>"
    stage: str  # one of LATENCY_STAGES
    t: float  # device wall time of the window's end
    window_s: float
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    rate_hz: float  # inferences per second over the window
    version: Optional[str] = None  # the model's active version when known


@_record
@dataclass
class LatencyWindows(Record):
    windows: List[LatencyWindow] = field(default_factory=list)


@_record
@dataclass
class LatencyQuery(Record):
    seconds: float = 900.0  # how far back


# ---------------------------------------------------------------------------------------------
# Health: checks as data, run periodically and on demand; the deploy's health gate uses them.

HEALTH_PASS = "pass"  # noqa: S105 - a check result, not a secret
HEALTH_FAIL = "fail"
HEALTH_SKIP = "skip"  # not configured or not applicable on this device
HEALTHY = "healthy"
DEGRADED = "degraded"  # a warning check fails
UNHEALTHY = "unhealthy"  # a critical check fails


@_record
@dataclass
class HealthCheck(Record):
    name: str  # stable id, e.g. "telemetry"
    title: str  # for people, e.g. "Telemetry is fresh"
    severity: str  # SEVERITY_CRITICAL or SEVERITY_WARNING
    status: str  # HEALTH_PASS, HEALTH_FAIL or HEALTH_SKIP
    message: str  # what was found
    fix: str = ""  # what to do when it fails


@_record
@dataclass
class HealthReport(Record):
    t: float
    overall: str  # HEALTHY, DEGRADED or UNHEALTHY
    checks: List[HealthCheck] = field(default_factory=list)


@_record
@dataclass
class HealthHistory(Record):
    reports: List[HealthReport] = field(default_factory=list)


@_record
@dataclass
class HealthQuery(Record):
    seconds: float = 3600.0


@_record
@dataclass
class HealthConfig(Record):
    """What this device is expected to look like, kept on the device."""

    latency_budget_ms: Optional[float] = None  # p99 of every reported source must stay under it
    expected_power_mode: Optional[str] = None  # e.g. "MAXN" or "15W"
    expect_clocks_locked: Optional[bool] = None  # jetson_clocks on (True) or off (False)
    restart_service: Optional[str] = None  # the robot's app unit the deploy restarts, checked active
    expect_gpu: bool = True  # a device that had a GPU at start must still see it
    min_free_memory_mb: float = 300.0
    min_free_disk_mb: float = 1024.0
    max_temperature_c: float = 85.0
    max_telemetry_age_s: float = 10.0
    interval_s: float = 30.0  # periodic run


@_record
@dataclass
class AuditEntry(Record):
    t: float
    actor: str  # the OS user of the connection (from the socket's peer credentials)
    action: str  # "deploy", "rollback", "activate", "config", "cancel", ...
    detail: str  # what exactly, in words
    result: str = "ok"  # "ok" or what went wrong


@_record
@dataclass
class AuditList(Record):
    entries: List[AuditEntry] = field(default_factory=list)


@_record
@dataclass
class AuditQuery(Record):
    limit: int = 500


# ---------------------------------------------------------------------------------------------
# Alerts: throttling, power capping, clocks below maximum, temperatures over thresholds.

ALERT_KINDS = ("thermal_throttle", "power_cap", "clocks_below_max", "temperature")
SEVERITY_WARNING = "warning"
SEVERITY_CRITICAL = "critical"


@_record
@dataclass
class AlertEvent(Record):
    """One alert with its start and (once over) end time, in device wall time."""

    id: str  # stable across the start and end messages of one alert
    kind: str  # one of ALERT_KINDS
    severity: str  # "warning" or "critical"
    source: str  # what it is about: "gpu0", a thermal zone type, "cpu"
    message: str  # a sentence for a person: what happened and what it means
    start: float
    end: Optional[float] = None
    metric: Optional[str] = None  # the telemetry series it was detected on, when there is one
    value: Optional[float] = None  # the worst value seen while active
    threshold: Optional[float] = None


@_record
@dataclass
class AlertQuery(Record):
    since: float = 0.0  # alerts active at or after this device time


@_record
@dataclass
class AlertList(Record):
    alerts: List[AlertEvent] = field(default_factory=list)


@_record
@dataclass
class AlertThresholds(Record):
    """Per-device alert settings, kept on the device."""

    temperature_warning_c: float = 85.0
    temperature_critical_c: float = 95.0
    zone_limits_c: Dict[str, float] = field(default_factory=dict)  # zone type -> warning limit override
    clocks_below_max_pct: float = 90.0  # GPU clock under this % of its maximum while busy
    busy_load_pct: float = 50.0  # "busy" for the clocks check
    hold_s: float = 2.0  # a condition must hold this long before it starts (and clear this long to end)


@_record
@dataclass
class CollectorStatus(Record):
    name: str
    active: bool
    absent: Dict[str, str] = field(default_factory=dict)  # what it cannot read -> why


@_record
@dataclass
class DeviceState(Record):
    """What changes while the device runs: power mode, clocks, collectors."""

    power_mode: Optional[str] = None
    clocks_locked: Optional[bool] = None
    collectors: List[CollectorStatus] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Jobs: typed specs, one record per kind; a job's ``spec`` holds that record's wire form.

JOB_QUEUED = "queued"
JOB_RUNNING = "running"
JOB_SUCCEEDED = "succeeded"
JOB_FAILED = "failed"
JOB_CANCELLED = "cancelled"
JOB_INTERRUPTED = "interrupted"
JOB_STATES = (JOB_QUEUED, JOB_RUNNING, JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELLED, JOB_INTERRUPTED)
JOB_FINAL_STATES = (JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELLED, JOB_INTERRUPTED)


@_record
@dataclass
class ValidateSpec(Record):
    model: str  # path on the device


@_record
@dataclass
class QuantizeSpec(Record):
    model: str
    output: str
    precision: str  # "fp16" or "int8"
    calibration: Optional[str] = None  # .npy / .npz file or a folder of them or of images
    preprocess: Dict[str, Any] = field(default_factory=dict)  # for images: size, mean, std, layout, scale
    keep_fp32: List[str] = field(default_factory=list)  # inputs/outputs kept in FP32 (fp16)
    per_channel: bool = True
    calibrate_method: str = "minmax"  # "minmax", "entropy" or "percentile"
    max_samples: int = 256
    fp16_io: bool = False  # fp16: inputs and outputs become FP16 too (except keep_fp32); default FP32
    block_ops: List[str] = field(default_factory=list)  # fp16: operator types kept in FP32 beyond the defaults
    quantizer: str = "auto"  # int8: "modelopt" (NVIDIA ModelOpt), "ort" (ONNX Runtime), "auto" (ModelOpt if there)


@_record
@dataclass
class BuildSpec(Record):
    model: str
    output: str
    precision: List[str] = field(default_factory=list)  # "fp16", "int8", "best"; empty: fp32 / strongly typed
    shapes: Dict[str, str] = field(default_factory=dict)  # input -> "MINxOPTxMAX" with dims joined by "x"/","
    workspace_mb: Optional[int] = None
    opt_level: Optional[int] = None
    dla_core: Optional[int] = None
    gpu_fallback: bool = True
    version_compatible: bool = False
    route: str = "api"  # "api" (TensorRT Python) or "trtexec"
    calibration: Optional[str] = None


@_record
@dataclass
class BenchmarkSpec(Record):
    model: str  # ONNX model or TensorRT engine
    backend: str = "ort"  # "ort" or "trt"
    provider: Optional[str] = None  # ORT execution provider; None picks the best available
    shapes: Dict[str, List[int]] = field(default_factory=dict)
    warmup_s: float = 1.0
    seconds: float = 5.0
    iterations: int = 0  # minimum iteration count on top of the duration
    concurrency: List[int] = field(default_factory=list)  # streams for a sweep, e.g. [1, 2, 4]
    threads: Optional[int] = None
    label: str = ""  # e.g. the version and precision, for comparisons
    data: Optional[str] = None  # .npy / .npz inputs (the first sample is fed); None: generated inputs


@_record
@dataclass
class AccuracySpec(Record):
    candidate: str
    reference: str
    shapes: Dict[str, List[int]] = field(default_factory=dict)
    data: Optional[str] = None  # .npy / .npz inputs; None: random within declared ranges
    samples: int = 16
    atol: Optional[float] = None  # None: the default for the candidate's precision
    rtol: Optional[float] = None
    precision: Optional[str] = None  # the candidate's precision when it cannot be read from the model
    ranges: Dict[str, List[float]] = field(default_factory=dict)  # input -> [low, high] for random data


JOB_SPECS: Dict[str, Type[Record]] = {
    "validate": ValidateSpec,
    "quantize": QuantizeSpec,
    "build": BuildSpec,
    "benchmark": BenchmarkSpec,
    "accuracy": AccuracySpec,
}


@_record
@dataclass
class JobSubmit(Record):
    kind: str  # a key of JOB_SPECS
    spec: Dict[str, Any]  # the kind's spec record, wire form
    label: str = ""


@_record
@dataclass
class PipelineSubmit(Record):
    """Jobs that run one after another; a failure cancels the rest."""

    steps: List[JobSubmit]
    label: str = ""


@_record
@dataclass
class JobInfo(Record):
    id: str
    kind: str
    state: str  # one of JOB_STATES
    spec: Dict[str, Any]
    label: str = ""
    progress: float = 0.0  # 0..1
    stage: str = ""
    created: float = 0.0
    started: Optional[float] = None
    finished: Optional[float] = None
    eta_s: Optional[float] = None
    error: Optional[str] = None  # what happened and what to do, for failed jobs
    result: Optional[Dict[str, Any]] = None  # the kind's result record, wire form
    pipeline: Optional[str] = None
    after: Optional[str] = None  # the job this one waits for
    gpu: bool = False


@_record
@dataclass
class JobList(Record):
    jobs: List[JobInfo] = field(default_factory=list)


@_record
@dataclass
class JobQuery(Record):
    limit: int = 200
    states: List[str] = field(default_factory=list)  # empty: every state


@_record
@dataclass
class JobRef(Record):
    id: str


@_record
@dataclass
class JobLogQuery(Record):
    id: str
    offset: int = 0  # line number to start from
    limit: int = 1000


@_record
@dataclass
class JobLog(Record):
    id: str
    offset: int  # line number of lines[0]
    lines: List[str] = field(default_factory=list)
    done: bool = False  # the job is over and no more lines will come


# Job results, one record per kind; a finished job's ``result`` holds its wire form.


@_record
@dataclass
class TensorInfo(Record):
    name: str
    dtype: str  # numpy-style name: "float32", "float16", "int8", "int64", ...
    shape: List[Any] = field(default_factory=list)  # ints, or strings for symbolic dims (None: unknown)


@_record
@dataclass
class BackendSupport(Record):
    backend: str  # "onnxruntime:CPUExecutionProvider", "tensorrt", ...
    available: bool  # the backend exists on this device
    unsupported_ops: List[str] = field(default_factory=list)
    note: str = ""


@_record
@dataclass
class ValidateReport(Record):
    model: str
    ok: bool
    size_bytes: int = 0
    checker_error: Optional[str] = None
    shape_inference_error: Optional[str] = None
    ir_version: int = 0
    opsets: Dict[str, int] = field(default_factory=dict)  # domain ("" is ai.onnx) -> version
    producer: str = ""
    inputs: List[TensorInfo] = field(default_factory=list)
    outputs: List[TensorInfo] = field(default_factory=list)
    operators: Dict[str, int] = field(default_factory=dict)  # op type -> count
    parameters: int = 0
    external_data: bool = False
    precision: str = "fp32"  # what the weights and ops say: fp32, fp16, int8 (QDQ), mixed
    backends: List[BackendSupport] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    qdq_findings: List[str] = field(default_factory=list)  # TensorRT Q/DQ rules the model breaks


@_record
@dataclass
class QuantizeResult(Record):
    output: str
    precision: str
    size_bytes: int
    source_size_bytes: int
    method: str = ""
    calibration_samples: int = 0
    quantized_nodes: int = 0
    kept_fp32: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)  # what changed from the request (per-tensor, opset upgrade...)
    proof: str = ""  # how the output was shown to load and run before the job succeeded
    qdq_findings: List[str] = field(default_factory=list)  # TensorRT Q/DQ rules the output breaks (int8)
    quantizer: str = ""  # int8: the quantizer that ran, "modelopt" or "ort"
    quantizer_version: str = ""  # its version (ModelOpt's, or ONNX Runtime's)
    quantizer_reason: str = ""  # why that one: asked for, ModelOpt installed, or why ModelOpt could not run


@_record
@dataclass
class BuildResult(Record):
    output: str
    engine_bytes: int
    tensorrt: str
    route: str
    build_s: float
    precision: List[str] = field(default_factory=list)
    dla_core: Optional[int] = None
    compute_capability: Optional[str] = None
    timing_cache: Optional[str] = None
    warnings: List[str] = field(default_factory=list)


@_record
@dataclass
class LatencySummary(Record):
    """Latency statistics in milliseconds."""

    count: int
    min: float
    mean: float
    median: float
    p90: float
    p95: float
    p99: float
    max: float
    cov: float  # coefficient of variation (std / mean)
    unstable: bool  # cov above 2.5 %


@_record
@dataclass
class RunConditions(Record):
    """The device's state during a run: what decides whether numbers are comparable."""

    power_mode: Optional[str] = None
    clocks_locked: Optional[bool] = None
    temperatures_c: Dict[str, float] = field(default_factory=dict)  # hottest seen per zone
    throttled: bool = False
    throttle_reasons: List[str] = field(default_factory=list)


@_record
@dataclass
class ConcurrencyPoint(Record):
    streams: int
    throughput_qps: float
    p50_ms: float
    p99_ms: float


@_record
@dataclass
class BenchmarkResult(Record):
    model: str
    backend: str
    latency: LatencySummary  # end-to-end host latency per inference
    throughput_qps: float
    duration_s: float
    provider: Optional[str] = None
    label: str = ""
    precision: Optional[str] = None
    shapes: Dict[str, List[int]] = field(default_factory=dict)
    gpu_compute: Optional[LatencySummary] = None  # where the backend can separate it
    samples_ms: List[float] = field(default_factory=list)  # at most 5000, for histogram and CDF
    model_bytes: int = 0
    session_memory_mb: Optional[float] = None
    peak_rss_mb: Optional[float] = None
    conditions: RunConditions = field(default_factory=RunConditions)
    comparable: bool = True
    not_comparable: List[str] = field(default_factory=list)  # why not, in words
    sweep: List[ConcurrencyPoint] = field(default_factory=list)
    started: float = 0.0
    # Energy, on devices with power readings (Jetson input rail, NVML): the mean power over the
    # measured window and the energy per inference it implies; why not, in words, when absent.
    mean_power_w: Optional[float] = None
    energy_mj_per_inference: Optional[float] = None
    power_source: str = ""
    energy_note: str = ""


@_record
@dataclass
class OutputError(Record):
    name: str
    max_abs: float
    max_rel: float
    mean_abs: float
    cosine: float
    passed: bool


@_record
@dataclass
class AccuracyReport(Record):
    candidate: str
    reference: str
    samples: int
    atol: float
    rtol: float
    passed: bool
    precision: str = "fp32"
    outputs: List[OutputError] = field(default_factory=list)


JOB_RESULTS: Dict[str, Type[Record]] = {
    "validate": ValidateReport,
    "quantize": QuantizeResult,
    "build": BuildResult,
    "benchmark": BenchmarkResult,
    "accuracy": AccuracyReport,
}


MIN_RATE_HZ = 1.0
MAX_RATE_HZ = 20.0
DEFAULT_RATE_HZ = 2.0

PING = Method("ping", Empty, Pong)
TELEMETRY_DESCRIBE = Method("telemetry.describe", Empty, TelemetryTable)
TELEMETRY_SUBSCRIBE = Method("telemetry.subscribe", SubscribeTelemetry, TelemetryTable)
TELEMETRY_UNSUBSCRIBE = Method("telemetry.unsubscribe", Empty, Empty)
DEVICE_CAPABILITIES = Method("device.capabilities", Empty, Capabilities)
DEVICE_STATE = Method("device.state", Empty, DeviceState)
EVENTS_SUBSCRIBE = Method("events.subscribe", SubscribeEvents, Empty)
EVENTS_UNSUBSCRIBE = Method("events.unsubscribe", SubscribeEvents, Empty)
LATENCY_RECENT = Method("latency.recent", LatencyQuery, LatencyWindows)
HEALTH_RUN = Method("health.run", Empty, HealthReport, changes_state=True, audit="health check")
HEALTH_LAST = Method("health.last", Empty, HealthReport)
HEALTH_HISTORY = Method("health.history", HealthQuery, HealthHistory)
HEALTH_CONFIG_GET = Method("health.config.get", Empty, HealthConfig)
HEALTH_CONFIG_SET = Method("health.config.set", HealthConfig, HealthConfig, changes_state=True, audit="config")
AUDIT_LIST = Method("audit.list", AuditQuery, AuditList)
ALERTS_LIST = Method("alerts.list", AlertQuery, AlertList)
ALERTS_THRESHOLDS_GET = Method("alerts.thresholds.get", Empty, AlertThresholds)
ALERTS_THRESHOLDS_SET = Method("alerts.thresholds.set", AlertThresholds, AlertThresholds, changes_state=True,
                               audit="config")
JOBS_SUBMIT = Method("jobs.submit", JobSubmit, JobInfo, changes_state=True, audit="job")
JOBS_PIPELINE = Method("jobs.pipeline", PipelineSubmit, JobList, changes_state=True, audit="job")
JOBS_LIST = Method("jobs.list", JobQuery, JobList)
JOBS_GET = Method("jobs.get", JobRef, JobInfo)
JOBS_CANCEL = Method("jobs.cancel", JobRef, JobInfo, changes_state=True, audit="cancel job")
JOBS_LOGS = Method("jobs.logs", JobLogQuery, JobLog)

TOPIC_SAMPLE = "telemetry.sample"


# ---------------------------------------------------------------------------------------------
# Model store: versioned models, signed packages, activation and rollback (device_runtime/store).

TOPIC_STORE = "store"  # data: StoreAction, on every step of an import / activation / rollback
EVENT_TOPICS = (*EVENT_TOPICS, TOPIC_STORE)
STORE_ACTION_RUNNING = "running"
STORE_ACTION_SUCCEEDED = "succeeded"
STORE_ACTION_FAILED = "failed"
# Raw bytes per upload chunk: base64 of it stays well under MAX_FRAME_BYTES.
STORE_UPLOAD_CHUNK = 512 * 1024


@_record
@dataclass
class StoreModelRef(Record):
    name: str


@_record
@dataclass
class StoreVersion(Record):
    version: str
    status: List[str] = field(default_factory=list)  # active, previous, trial, failed, pinned, corrupt
    reason: str = ""  # why it failed or is flagged corrupt
    created: str = ""
    author: str = ""
    precision: str = ""
    backend: str = ""
    size_bytes: int = 0
    signer: Optional[str] = None  # key id; None: unsigned
    security_counter: int = 0
    imported: float = 0.0


@_record
@dataclass
class StoreModel(Record):
    name: str
    active: Optional[str] = None
    previous: Optional[str] = None
    floor: int = 0
    versions: int = 0
    pinned: List[str] = field(default_factory=list)
    failed: List[str] = field(default_factory=list)
    corrupt: List[str] = field(default_factory=list)
    # The active version's ONNX file as the device names it (through the active/ link), for jobs
    # that run the deployed model (commissioning's smoke test, thermal load).
    active_model_path: Optional[str] = None


@_record
@dataclass
class StoreModels(Record):
    models: List[StoreModel] = field(default_factory=list)
    policy: str = ""


@_record
@dataclass
class StoreVersions(Record):
    name: str
    versions: List[StoreVersion] = field(default_factory=list)  # newest first
    active: Optional[str] = None
    previous: Optional[str] = None
    floor: int = 0


@_record
@dataclass
class StoreHistoryQuery(Record):
    name: str
    limit: int = 200


@_record
@dataclass
class StoreHistoryEntry(Record):
    t: float
    id: str
    action: str  # import, deploy, activate, rollback, pin, unpin
    result: str  # started, committed, rolled_back, failed, interrupted, imported, changed
    who: str = ""
    from_version: Optional[str] = None
    to_version: Optional[str] = None
    why: str = ""
    detail: str = ""


@_record
@dataclass
class StoreHistory(Record):
    name: str
    entries: List[StoreHistoryEntry] = field(default_factory=list)  # oldest first


@_record
@dataclass
class StoreImport(Record):
    """Import a package already on the device (an upload in incoming/, or a local path)."""

    path: str
    activate: bool = False  # deploy: import, then activate
    who: str = ""
    why: str = ""
    allow_downgrade: bool = False
    force: bool = False  # go past a held inhibit lock after the wait (audited)
    wait_s: Optional[float] = None


@_record
@dataclass
class StoreActivate(Record):
    name: str
    version: str
    who: str = ""
    why: str = ""
    allow_downgrade: bool = False
    force: bool = False
    wait_s: Optional[float] = None


@_record
@dataclass
class StoreRollback(Record):
    name: str
    to: Optional[str] = None  # None: the previous committed version
    who: str = ""
    why: str = ""
    force: bool = False
    wait_s: Optional[float] = None


@_record
@dataclass
class StoreActionRef(Record):
    id: str


@_record
@dataclass
class StoreAction(Record):
    """A store action running on the device's store worker; pushed on TOPIC_STORE as it goes."""

    id: str
    kind: str  # import, deploy, activate, rollback, remove
    state: str  # running, succeeded, failed
    stage: str = ""
    progress: float = 0.0
    name: Optional[str] = None
    version: Optional[str] = None
    previous: Optional[str] = None
    result: Optional[str] = None  # committed, rolled_back, failed, unchanged, imported
    message: str = ""  # what happened and what to do, in words
    code: Optional[str] = None  # the store's refusal code when it failed
    notes: List[str] = field(default_factory=list)
    steps_s: Dict[str, float] = field(default_factory=dict)
    started: float = 0.0
    finished: Optional[float] = None


@_record
@dataclass
class StoreRemove(Record):
    """Remove one stored version, or a whole model (``version`` None). Removing the active version
    needs ``confirm_active`` set to it: the operator saw which version stops being active."""

    name: str
    version: Optional[str] = None
    confirm_active: Optional[str] = None
    who: str = ""
    why: str = ""


@_record
@dataclass
class StorePin(Record):
    name: str
    version: str
    who: str = ""


@_record
@dataclass
class StoreKey(Record):
    public_key: str  # "ed25519 <base64> [comment]"
    who: str = ""


@_record
@dataclass
class StoreKeyInfo(Record):
    key_id: str
    public_key: str
    comment: str = ""


@_record
@dataclass
class StoreKeys(Record):
    keys: List[StoreKeyInfo] = field(default_factory=list)


@_record
@dataclass
class StorePolicy(Record):
    """The device's store settings. Hooks are set in the device's config file only."""

    policy: str  # "require-signature" or "allow-unsigned"
    keep: int
    restart_hook: List[str] = field(default_factory=list)
    health_hook: List[str] = field(default_factory=list)
    health_grace_s: float = 30.0
    inhibit_path: str = ""
    inhibit_wait_s: float = 60.0


@_record
@dataclass
class StorePolicyUpdate(Record):
    policy: Optional[str] = None
    keep: Optional[int] = None
    who: str = ""


@_record
@dataclass
class StoreUploadBegin(Record):
    sha256: str  # of the whole package; it names the upload, so a retry resumes it
    size: int
    filename: str = ""
    # Unpack, check and load a big package while it arrives (a deploy). False for a file only
    # pushed for later (edgectl push): nothing but the upload runs on the device.
    stage: bool = True
    # Protocol 3: ``sha256`` is a name the sender chose (64 hex digits), and the package's own
    # sha256 comes with ``store.upload.finish`` (StoreUploadFinish.sha256): the sender hashes the
    # bytes as it sends them and the device as they arrive. Older daemons ignore it: send it only
    # to a daemon of DIGEST_AT_END_PROTOCOL_VERSION or newer.
    digest_at_end: bool = False


@_record
@dataclass
class StoreUploadChunk(Record):
    id: str
    offset: int
    data: str  # base64, at most STORE_UPLOAD_CHUNK raw bytes


@_record
@dataclass
class StoreUploadFinish(Record):
    """Finish an upload: the device hashes what arrived and keeps it only when the sha256 matches."""

    id: str
    # The package's sha256, for an upload begun with digest_at_end (protocol 3); it must match
    # the name of any other upload. The finished file is incoming/<sha256>.tar.gz either way.
    sha256: Optional[str] = None


@_record
@dataclass
class StoreUploadState(Record):
    id: str
    offset: int  # bytes the device holds; send from here
    size: int
    path: Optional[str] = None  # set once finished and hashed: pass it to store.import
    # The partial file on the device: a client with file access there (SFTP over the same SSH
    # login) may append to it directly instead of sending chunks; finish hashes it all the same.
    part: Optional[str] = None


STORE_MODELS = Method("store.models", Empty, StoreModels)
STORE_VERSIONS = Method("store.versions", StoreModelRef, StoreVersions)
STORE_HISTORY = Method("store.history", StoreHistoryQuery, StoreHistory)
STORE_IMPORT = Method("store.import", StoreImport, StoreAction, changes_state=True, audit="import")
STORE_ACTIVATE = Method("store.activate", StoreActivate, StoreAction, changes_state=True, audit="activate")
STORE_ROLLBACK = Method("store.rollback", StoreRollback, StoreAction, changes_state=True, audit="rollback")
STORE_ACTION = Method("store.action", StoreActionRef, StoreAction)
STORE_PIN = Method("store.pin", StorePin, StoreVersions, changes_state=True, audit="pin")
STORE_UNPIN = Method("store.unpin", StorePin, StoreVersions, changes_state=True, audit="unpin")
# result "removed"; its message names what went
STORE_REMOVE = Method("store.remove", StoreRemove, StoreAction, changes_state=True, audit="remove")
STORE_KEYS_LIST = Method("store.keys.list", Empty, StoreKeys)
STORE_KEYS_TRUST = Method("store.keys.trust", StoreKey, StoreKeyInfo, changes_state=True, audit="trust key", admin=True)
STORE_POLICY_GET = Method("store.policy.get", Empty, StorePolicy)
STORE_POLICY_SET = Method("store.policy.set", StorePolicyUpdate, StorePolicy, changes_state=True, audit="config",
                          admin=True)
STORE_UPLOAD_BEGIN = Method("store.upload.begin", StoreUploadBegin, StoreUploadState, changes_state=True,
                            audit="upload")
# (STORE_UPLOAD_CHUNK is the chunk size above; the method takes the suffix.)
STORE_UPLOAD_CHUNK_METHOD = Method("store.upload.chunk", StoreUploadChunk, StoreUploadState, changes_state=True)
STORE_UPLOAD_FINISH = Method("store.upload.finish", StoreUploadFinish, StoreUploadState, changes_state=True)
# Files for jobs (models, calibration data, golden cases), same records as store uploads.
FILES_BEGIN = Method("files.begin", StoreUploadBegin, StoreUploadState, changes_state=True, audit="send file")
FILES_CHUNK = Method("files.chunk", StoreUploadChunk, StoreUploadState, changes_state=True)
FILES_FINISH = Method("files.finish", StoreActionRef, StoreUploadState, changes_state=True)


@_record
@dataclass
class StoreModelUsage(Record):
    name: str
    bytes: int  # every stored version of the model
    versions: int


@_record
@dataclass
class IncomingEntry(Record):
    """An upload in incoming/: ``partial`` (resumable: send it again to go on) or ``received``
    (whole, not imported yet, e.g. refused until its signer's key is trusted)."""

    id: str  # the upload id (the package's sha256)
    kind: str  # "partial" or "received"
    bytes: int  # on disk now
    size: int  # the whole upload's size (0: unknown)
    age_s: float  # since it was last touched
    filename: str = ""


@_record
@dataclass
class StoreUsage(Record):
    """``edgectl df``: the store's share of its disk."""

    total_bytes: int  # the file system holding the store
    free_bytes: int
    reserve_bytes: int  # kept free after an import or upload
    models: List[StoreModelUsage] = field(default_factory=list)
    incoming: List[IncomingEntry] = field(default_factory=list)
    incoming_max_age_s: float = 0.0  # an upload untouched this long is removed


STORE_DF = Method("store.df", Empty, StoreUsage)
# id: an upload in incoming/
STORE_INCOMING_REMOVE = Method("store.incoming.remove", StoreActionRef, StoreUsage, changes_state=True,
                               audit="remove upload")


# ---------------------------------------------------------------------------------------------
# Latency probe: the active version of one stored model run at a low rate (device_runtime/latency/probe.py).
# Its timings appear in the latency windows as source "probe:<model>": stage "total", and "infer" too
# for a TensorRT engine (ONNX Runtime's outputs land in host memory, so its infer time is its total).

TOPIC_PROBE = "probe"  # data: ProbeStatus, on every change of the probe's state, model, version or rate
EVENT_TOPICS = (*EVENT_TOPICS, TOPIC_PROBE)
PROBE_RUNNING = "running"
PROBE_PAUSED = "paused"  # backed off: a GPU job runs or the device throttles; ``reason`` says which
PROBE_OFF = "off"
PROBE_FAILED = "failed"  # ``reason`` says what happened and what to do
PROBE_STATES = (PROBE_RUNNING, PROBE_PAUSED, PROBE_OFF, PROBE_FAILED)
PROBE_MIN_RATE_HZ = 1.0
PROBE_MAX_RATE_HZ = 30.0
PROBE_SOURCE_PREFIX = "probe:"


@_record
@dataclass
class ProbeSettings(Record):
    """What the probe should run: ``rate_hz`` 0 turns it off; ``shapes`` fixes dynamic input dimensions."""

    model: Optional[str] = None
    rate_hz: float = 0.0
    shapes: Dict[str, List[int]] = field(default_factory=dict)


@_record
@dataclass
class ProbeStatus(Record):
    state: str  # one of PROBE_STATES
    model: Optional[str] = None
    version: Optional[str] = None  # the version the probe runs (the model's active one)
    rate_hz: float = 0.0
    reason: str = ""  # why paused, off or failed, in words
    source: Optional[str] = None  # "probe:<model>" in the latency windows
    backend: Optional[str] = None  # "onnxruntime" or "tensorrt"
    provider: Optional[str] = None  # e.g. CPUExecutionProvider, once loaded
    shapes: Dict[str, List[int]] = field(default_factory=dict)  # the input shapes it feeds
    count: int = 0  # inferences since the current version was loaded
    busy_s: float = 0.0  # seconds those inferences took, summed (count / busy_s: the duty cycle)
    last_ms: Optional[float] = None
    since: float = 0.0  # device time of the last state change


PROBE_GET = Method("probe.get", Empty, ProbeStatus)
PROBE_SET = Method("probe.set", ProbeSettings, ProbeStatus, changes_state=True, audit="probe")


# Methods that change the device's state. The daemon keeps its reply to each of them for a while,
# by (console instance, request id), and answers a retry of the same id with that reply instead
# of acting again; a console sends such a request again (same id) when the link dropped before
# the reply came. Reads and this connection's subscriptions are not in here: they are simply redone.
REPLAYED_METHODS: FrozenSet[str] = frozenset(name for name, method in DECLARED.items() if method.replayed)
# protocol method -> the action word its audit entry records (derived from the declarations).
AUDITED_METHODS: Dict[str, str] = {name: method.audit for name, method in DECLARED.items() if method.audit is not None}
# Methods only an admin may call: those that change what the device accepts (a key, the signature policy).
ADMIN_METHODS: FrozenSet[str] = frozenset(name for name, method in DECLARED.items() if method.admin)


def parse_params(request: Request) -> Record:
    """Validate a request's params against its method; raises :class:`ProtocolError`."""
    entry = METHODS.get(request.method)
    if entry is None:
        raise ProtocolError(ErrorCode.UNKNOWN_METHOD, "unknown method %r" % request.method, request.id)
    try:
        return entry[0].from_wire(request.params)
    except ProtocolError as exc:
        exc.request_id = request.id
        raise


def parse_result(method: str, response: Response) -> Record:
    return METHODS[method][1].from_wire(response.result)


def check_compatible(peer_protocol: int, peer_min_protocol: int) -> Optional[str]:
    """Return None when both sides can talk, else a sentence saying why not and what to do."""
    if peer_protocol < MIN_PROTOCOL_VERSION:
        return (
            "the console speaks protocol %d but this runtime needs at least %d: "
            "update the console" % (peer_protocol, MIN_PROTOCOL_VERSION)
        )
    if peer_min_protocol > PROTOCOL_VERSION:
        return (
            "the console needs protocol %d or newer but this runtime speaks %d: "
            "update the runtime on the device" % (peer_min_protocol, PROTOCOL_VERSION)
        )
    return None


# ---------------------------------------------------------------------------------------------
# Codec


def encode(message: Message) -> bytes:
    """One frame: compact JSON, UTF-8, newline-terminated."""
    payload = message.to_wire()
    payload["type"] = message.TYPE
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"
    # Text the decoder now refuses may still sit in records stored before it did: it goes out
    # with "?" in place of each lone surrogate rather than failing every reply that carries it.
    return text.encode("utf-8", "replace")


def _reject_constant(name: str) -> Any:
    raise ValueError("%s is not allowed" % name)


def decode(frame: bytes) -> AnyMessage:
    """Parse one frame (without or with its newline) into a typed message."""
    if len(frame) > MAX_FRAME_BYTES:
        raise ProtocolError(ErrorCode.FRAME_TOO_LARGE, "frame of %d bytes is over the limit" % len(frame))
    try:
        data = json.loads(frame.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(ErrorCode.BAD_FRAME, "frame is not valid JSON: %s" % str(exc)[:200]) from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_FRAME, "frame must be a JSON object")
    request_id = data.get("id") if isinstance(data.get("id"), int) else None
    kind = data.pop("type", None)
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.BAD_FRAME, "frame has no 'type'", request_id)
    cls = _MESSAGES.get(kind)
    if cls is None:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, "unknown message type %r" % kind[:64], request_id)
    try:
        return cls.from_wire(data)  # type: ignore[return-value]
    except ProtocolError as exc:
        exc.request_id = request_id
        raise


class FrameDecoder:
    """Splits a byte stream into frames, bounded in memory.

    ``feed`` returns complete frames and :class:`ProtocolError` for each frame over
    ``max_frame`` bytes; the bytes of an oversized frame are skipped as they arrive, never
    buffered, so a 1 GiB frame costs no more memory than a 1 MiB one.
    """

    def __init__(self, max_frame: int = MAX_FRAME_BYTES) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()
        self._discarding = False
        self._discarded = 0

    def feed(self, data: bytes) -> Iterator[Union[bytes, ProtocolError]]:
        start = 0
        while start < len(data):
            newline = data.find(b"\n", start)
            end = len(data) if newline < 0 else newline
            chunk_len = end - start
            if self._discarding:
                self._discarded += chunk_len
            elif len(self._buffer) + chunk_len > self.max_frame:
                self._discarding = True
                self._discarded = len(self._buffer) + chunk_len
                self._buffer = bytearray()
            else:
                self._buffer += data[start:end]
            if newline < 0:
                return
            start = newline + 1
            if self._discarding:
                size = self._discarded
                self._discarding = False
                self._discarded = 0
                yield ProtocolError(
                    ErrorCode.FRAME_TOO_LARGE,
                    "frame of %d bytes refused (limit %d bytes)" % (size, self.max_frame),
                )
            elif self._buffer.strip():
                frame = bytes(self._buffer)
                self._buffer = bytearray()
                yield frame
            else:
                self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held for an incomplete frame (0 while discarding)."""
        return len(self._buffer)
