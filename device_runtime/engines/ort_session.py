"""ONNX Runtime sessions as the runtime opens them: one set of options and one provider order.

Where the device picks the execution provider, the best local accelerator it has comes first,
in the order TensorRT, CUDA, CPU, with the CPU after it as the fallback for nodes the
accelerator has no kernel for. A caller that names its providers gets exactly those (the
quantize proof runs on the CPU; the backend check loads one provider at a time with the CPU
fallback switched off). ONNX Runtime's own log is kept to errors: its warnings go to stderr
and say nothing a user can act on.

onnxruntime is imported inside the functions: the daemon imports this module's callers without
ever loading ONNX Runtime.
"""

from __future__ import annotations

from typing import Any, Collection, List, Optional, Sequence, Union

CPU = "CPUExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
# The device's accelerators, best first; the CPU is always last.
PROVIDER_ORDER = (TENSORRT, "CUDAExecutionProvider", CPU)


def pick_providers(available: Sequence[str], skip: Collection[str] = ()) -> List[str]:
    """The best provider in ``available`` (by :data:`PROVIDER_ORDER`, leaving out ``skip``) with
    the CPU as its fallback, or the CPU alone."""
    for name in PROVIDER_ORDER[:-1]:
        if name in available and name not in skip:
            return [name, CPU]
    return [CPU]


def device_providers(skip: Collection[str] = ()) -> List[str]:
    """:func:`pick_providers` over the providers this device's ONNX Runtime has."""
    import onnxruntime as ort

    return pick_providers(ort.get_available_providers(), skip)


def open_session(model: Union[str, bytes], providers: Optional[Sequence[str]] = None, threads: Optional[int] = None,
                 spinning: bool = True, cpu_fallback: bool = True, prepacking: bool = True) -> Any:
    """An ``onnxruntime.InferenceSession`` on ``model`` (a path or the serialized model).

    ``providers``: exactly these, in this order (``None``: :func:`device_providers`).
    ``threads``: the size of ONNX Runtime's thread pools (``None``: its default, a thread per core).
    ``spinning``: False stops idle pool threads spinning between runs (for a session that runs
    now and then and must not burn a core waiting). ``cpu_fallback``: False makes a load fail
    when some node has no kernel on the given providers, instead of running it on the CPU.
    ``prepacking``: False leaves constant weights in the model's layout instead of re-laying them
    out for the CPU's matrix kernels at load (a copy of every weight: worth it for a session that
    runs many times, pure cost for one that runs once).
    ONNX Runtime's exception, when it cannot load the model, reaches the caller as it is."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = threads
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if not cpu_fallback:
        options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    if not prepacking:
        options.add_session_config_entry("session.disable_prepacking", "1")
    chosen = device_providers() if providers is None else list(providers)
    return ort.InferenceSession(model, sess_options=options, providers=chosen)
