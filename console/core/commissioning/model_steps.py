"""The commissioning steps about the deployed model: the smoke test on golden cases (accuracy
jobs against the expected outputs) or, without them, on the package's warm-up sample, latency
against the budget, and the rollback drill (real store actions, health checked after each)."""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from console.core.commissioning.checklist import FAIL, PASS, SKIP, StepResult
from console.core.commissioning.golden import GoldenError, load_cases, tolerances, write_case
from console.core.commissioning.steps import LIVE_LATENCY_S, Outcome, StepContext, StepFailed, job_failure
from console.core.devices.client import DeviceError
from console.core.health.monitor import critical_failures
from console.core.jobs.specs import SpecError, device_path
from console.core.models.packages import SAMPLE_FILE
from console.core.models.rollback_record import newer, rolled_back_versions
from console.core.models.store_client import StoreClient
from console.transport.base import TransportError
from device_runtime.protocol import (
    JOB_SUCCEEDED,
    LATENCY_RECENT,
    STORE_ACTION_SUCCEEDED,
    STORE_ACTIVATE,
    AccuracyReport,
    AccuracySpec,
    LatencyQuery,
    StoreAction,
    StoreActivate,
    StoreHistoryEntry,
)

NO_GOLDEN = "no golden inputs given (a folder with NAME.npz inputs and NAME.expected.npz outputs)"


def smoke(ctx: StepContext, step: StepResult) -> Outcome:
    golden = ctx.options.golden
    if golden is None and ctx.model is None:
        return SKIP, NO_GOLDEN
    if ctx.model is None:
        return FAIL, "no model is deployed on the device: deploy it, then commission again"
    if golden is None:
        return _on_warmup_sample(ctx, step)
    try:
        model = ctx.model_file()
        described = ctx.describe(step, model)
        cases = load_cases(golden, [t.name for t in described.inputs], [t.name for t in described.outputs])
        atol, rtol = tolerances(golden)
        dtypes = {t.name: t.dtype for t in described.inputs}
        entry = ctx.session.entry
        failed = []
        for number, case in enumerate(cases, start=1):
            data, reference = write_case(case, ctx.scratch(), dtypes)
            spec = AccuracySpec(candidate=model, reference=device_path(entry, reference, session=ctx.session),
                                data=device_path(entry, data, session=ctx.session), samples=1, atol=atol, rtol=rtol)
            info = ctx.job(step, "accuracy", spec, "commissioning: golden case %s (%d/%d)"
                           % (case.name, number, len(cases)), timeout=600)
            if info.state != JOB_SUCCEEDED or info.result is None:
                return FAIL, job_failure("golden case %s" % case.name, info)
            report = AccuracyReport.from_wire(info.result)
            for out in report.outputs:
                step.details.append("case %s, output %s: max abs error %.3g, max rel %.3g (atol %g, rtol %g): %s"
                                    % (case.name, out.name, out.max_abs, out.max_rel, report.atol, report.rtol,
                                       "pass" if out.passed else "FAIL"))
            if not report.passed:
                failed.append(case.name)
    except (GoldenError, SpecError, StepFailed) as exc:
        return FAIL, str(exc)
    if failed:
        return FAIL, "%d of %d golden case(s) differ from the expected outputs beyond the tolerances: %s" % (
            len(failed), len(cases), ", ".join(failed))
    return PASS, "%s matches the expected outputs on all %d golden case(s)" % (ctx.model, len(cases))


def _on_warmup_sample(ctx: StepContext, step: StepResult) -> Outcome:
    """No golden cases: run the active version once on its package's warm-up sample (``--sample``), the
    real input its deploy was proven on, which the store keeps beside the ONNX as ``SAMPLE_FILE``. There
    are no expected outputs, so this proves the deployed model runs on a real input, not its accuracy."""
    try:
        model = ctx.model_file()
    except SpecError as exc:
        return FAIL, str(exc)
    sample = posixpath.join(posixpath.dirname(model), SAMPLE_FILE)
    spec = AccuracySpec(candidate=model, reference=model, data=sample, samples=1)
    info = ctx.job(step, "accuracy", spec, "commissioning: %s on its warm-up sample" % ctx.model, timeout=600)
    if info.state != JOB_SUCCEEDED or info.result is None:
        if _no_such_data(info.error, sample):
            return SKIP, "%s; the package of %s has no warm-up sample either (deploy it with --sample FILE.npz)" % (
                NO_GOLDEN, ctx.model)
        return FAIL, job_failure("running %s on its package's warm-up sample" % ctx.model, info)
    report = AccuracyReport.from_wire(info.result)
    step.details.append("ran %s on %s: outputs %s" % (ctx.model, sample, ", ".join(o.name for o in report.outputs)))
    return PASS, "%s runs on its package's warm-up sample (%s); no golden outputs were given to compare with" % (
        ctx.model, ", ".join(o.name for o in report.outputs))


def _no_such_data(error: str | None, path: str) -> bool:
    """The accuracy job's refusal of a data path that is not on the device (calibration.py ``_files``):
    the one failure that means the package has no sample rather than that the model failed on it."""
    return bool(error) and "the data %s does not exist on the device" % path in str(error)


def latency(ctx: StepContext, step: StepResult) -> Outcome:
    budget = ctx.config().latency_budget_ms
    if budget is None:
        return SKIP, ("no latency budget in the device's health settings; set one first "
                      "(edgectl health-config --set latency_budget_ms=20)")
    reply = ctx.session.call(LATENCY_RECENT, LatencyQuery(LIVE_LATENCY_S))
    newest = {w.source: w for w in reply.windows if w.stage == "total"}
    if newest:
        over = []
        for source, window in sorted(newest.items()):
            step.details.append("%s: p99 %.2f ms over %d inferences" % (source, window.p99_ms, window.count))
            if window.p99_ms > budget:
                over.append("%s p99 %.2f ms" % (source, window.p99_ms))
        if over:
            return FAIL, "%s over the %.2f ms budget" % (", ".join(over), budget)
        return PASS, "reported p99 within the %.2f ms budget for %s" % (budget, ", ".join(sorted(newest)))
    if ctx.load is None:
        return FAIL, ("no latency to judge: nothing was reported in the last %.0f s and the load step ran no "
                      "benchmark" % LIVE_LATENCY_S)
    p99 = ctx.load.latency.p99
    step.details.append("nothing reported live; the load's benchmark p99 is used")
    verdict = PASS if p99 <= budget else FAIL
    return verdict, "p99 under sustained load %.2f ms, %s the %.2f ms budget" % (
        p99, "within" if verdict == PASS else "over", budget)


DRILL = "commissioning rollback drill"


def rollback(ctx: StepContext, step: StepResult) -> Outcome:
    """Active -> the previous version kept good -> back to the starting version. The starting
    version is put back whatever happens in between (a failure, an error, a cancel)."""
    if not ctx.options.rollback_drill:
        return SKIP, "left out by the operator"
    if ctx.model is None:
        return SKIP, "no model is deployed, so there is nothing to roll back"
    name = ctx.model
    versions = ctx.versions()
    original, previous = versions.active, versions.previous
    if original is None or previous is None:
        return SKIP, ("%s has no previous version on the device (active: %s): deploy a second version to drill a "
                      "rollback" % (name, original or "none"))
    refusal = drill_refusal(name, original, previous, ctx.history())
    if refusal:
        return SKIP, refusal
    store = StoreClient(ctx.session, who=ctx.run.env.local_user)
    try:
        outcome = _drill(ctx, step, store, name, original, previous)
    except BaseException:
        _restore(ctx, step, store, name, original)
        raise
    problem = _restore(ctx, step, store, name, original)
    return (FAIL, problem) if problem else outcome


def drill_refusal(name: str, active: str, previous: str, history: list[StoreHistoryEntry]) -> str | None:
    """Why the drill must not switch to ``previous`` (it was rolled back, or is newer); None: it may."""
    left = rolled_back_versions(name, history).get(previous)
    if left is not None:
        return ("%s; the drill switches only to a version kept good, so %s stays on %s. Deploy a good second "
                "version to drill a rollback" % (left.sentence(), name, active))
    if newer(previous, active):
        return ("the previous version %s is newer than the active %s (the robot was moved off it); the drill "
                "switches only to an older version kept good, so %s stays on %s" % (previous, active, name, active))
    return None


def _drill(ctx: StepContext, step: StepResult, store: StoreClient, name: str, original: str,
           previous: str) -> Outcome:
    def show(action: StoreAction) -> None:
        ctx.run.update(step, progress="%s: %s" % (action.kind, action.stage or action.state))

    back = store.rollback(name, to=previous, progress=show, why=DRILL)
    step.details.append("rollback %s -> %s: %s" % (original, previous, _action_words(back)))
    if not _committed(back):
        return FAIL, "rolling %s back to %s failed: %s" % (name, previous, back.message or back.result)
    unhealthy = critical_failures(ctx.health.run())
    step.details.append("health on %s: %s" % (previous, ", ".join(unhealthy) or "no critical check failing"))
    ctx.run.check_cancelled()
    forward = _activate(store, name, original, show)
    step.details.append("back %s -> %s: %s" % (previous, original, _action_words(forward)))
    if not _committed(forward):
        return FAIL, "going back to %s failed: %s" % (original, forward.message or forward.result)
    unhealthy_after = critical_failures(ctx.health.run())
    step.details.append("health on %s: %s" % (original, ", ".join(unhealthy_after) or "no critical check failing"))
    if unhealthy or unhealthy_after:
        return FAIL, "critical checks failed after the %s: %s" % (
            "rollback" if unhealthy else "return", ", ".join(unhealthy or unhealthy_after))
    return PASS, "rolled %s back from %s to %s and forward again; healthy after each" % (name, original, previous)


def _activate(store: StoreClient, name: str, version: str, show: Callable[[StoreAction], None] | None) -> StoreAction:
    # The starting version may be older than the one the drill switched to: going back is intended.
    return store.run(STORE_ACTIVATE, StoreActivate(name, version, store.who, DRILL + ": back to the starting version",
                                                 allow_downgrade=True), show)


def _restore(ctx: StepContext, step: StepResult, store: StoreClient, name: str, original: str) -> str | None:
    """Put ``original`` back if the drill left anything else active; the problem in words, or None."""
    try:
        active = _active(ctx)
        if active == original:
            return None
        again = _activate(store, name, original, None)
        step.details.append("restoring %s -> %s: %s" % (active or "none", original, _action_words(again)))
        if _committed(again):
            return None
        reason = again.message or again.result or again.state
    except (DeviceError, TransportError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
    return ("%s could not be put back on %s (%s): %s runs %s. Activate %s again on the Models page or with "
            "edgectl --device %s rollback %s --to %s" % (
                name, original, reason.rstrip("."), name, _active_or_unknown(ctx), original, ctx.session.name, name,
                original))


def _active_or_unknown(ctx: StepContext) -> str:
    try:
        return _active(ctx) or "no version"
    except (DeviceError, TransportError, OSError):
        return "an unknown version (the device does not answer)"


def _committed(action: StoreAction) -> bool:
    return action.state == STORE_ACTION_SUCCEEDED and action.result == "committed"


def _action_words(action: StoreAction) -> str:
    return "%s%s" % (action.result or action.state, " (%s)" % action.message if action.message else "")


def _active(ctx: StepContext) -> str | None:
    return ctx.versions().active
