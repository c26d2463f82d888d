"""Jobs: typed specs and results per kind, submissions, job state and logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Type

from device_runtime.protocol.core import Record, _record

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
