"""The Optimize pipeline as a core object, without Qt: a real local daemon, real ONNX Runtime jobs.

It is driven from plain threads the way edgectl or a script would: the model check (a validate job
and its words), then the pipeline's events in order (which step of how many, state, percent), the
summary and the result to deploy, a cancel, a job's failure in words, and the checks that refuse a
choice before anything runs. tests/ssh/test_ssh_optimize_core.py runs it on an SSH device, where
the files are sent first.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv
from console.core.jobs.specs import SpecError
from console.core.jobs.tracker import JobTracker, job_title
from console.core.optimize.pipeline import (
    RUNNING,
    Finished,
    ModelCheck,
    OptimizePipeline,
    PipelineEvent,
    StepEvent,
    Submitted,
    Validated,
)
from console.core.optimize.plan import OptimizeChoice
from device_runtime.demo_model import build_demo_model

SHAPES = {"image": [1, 3, 64, 64]}


@pytest.fixture
def tracker(console_env: ConsoleEnv) -> Iterator[JobTracker]:
    core = ConsoleCore(console_env)
    session = core.session("local")
    session.connect()
    jobs = JobTracker(session)
    jobs.start()
    yield jobs
    jobs.close()
    core.close()


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    import onnx

    path = tmp_path / "models" / "detector.onnx"
    path.parent.mkdir()
    onnx.save(build_demo_model(), str(path))
    return path


class Events:
    """What a listener heard, on the pipeline's thread; waits for one event without sleeping."""

    def __init__(self) -> None:
        self.seen: list[PipelineEvent] = []
        self._changed = threading.Condition()

    def __call__(self, event: PipelineEvent) -> None:
        with self._changed:
            self.seen.append(event)
            self._changed.notify_all()

    def wait_for(self, match: type[PipelineEvent], test: object = None, timeout: float = 120.0) -> PipelineEvent:
        def found() -> PipelineEvent | None:
            return next((e for e in self.seen if isinstance(e, match) and (test is None or test(e))),  # type: ignore[operator]
                        None)

        with self._changed:
            assert self._changed.wait_for(lambda: found() is not None, timeout), (match, self.seen)
            event = found()
        assert event is not None
        return event

    def steps(self) -> list[StepEvent]:
        return [e for e in self.seen if isinstance(e, StepEvent)]


def test_an_fp16_pipeline_reports_each_step_in_order_then_the_summary(tracker: JobTracker,
                                                                        model_file: Path) -> None:
    events = Events()
    pipeline = OptimizePipeline(tracker, OptimizeChoice(str(model_file), "fp16", shapes=dict(SHAPES), seconds=0.5),
                                listener=events)
    assert pipeline.steps == 4 and pipeline.name == "detector fp16 ort"
    assert pipeline.opening() == "Starting 4 steps: benchmark → quantize → benchmark → accuracy…"
    finished = pipeline.run()  # on this plain thread: no Qt, no event loop

    assert finished is not None and finished is events.seen[-1] and pipeline.finished is finished
    assert finished.state == "succeeded", finished.text
    assert finished.text.startswith("Done. detector fp16 ONNX Runtime: p50")
    assert "FP32 baseline p50" in finished.text and "Accuracy passed against the FP32 reference" in finished.text
    assert finished.result == str(model_file.parent / "detector.fp16.onnx")
    assert (model_file.parent / "detector.fp16.onnx").exists()
    assert [j.kind for j in finished.jobs] == ["benchmark", "quantize", "benchmark", "accuracy"]
    assert all(j.state == "succeeded" for j in finished.jobs)

    submitted = [e for e in events.seen if isinstance(e, Submitted)]
    assert len(submitted) == 1 and submitted[0].job_ids == tuple(j.id for j in finished.jobs)
    assert events.seen.index(submitted[0]) < events.seen.index(events.steps()[0])
    steps = events.steps()
    assert all(e.steps == 4 for e in steps)
    # Steps move forward only: each job is reported in its place, and finishes before the next runs.
    running = [e.step for e in steps if e.state == RUNNING]
    assert running == sorted(running) and set(running) <= {1, 2, 3, 4}
    for step in (1, 2, 3, 4):
        mine = [e for e in steps if e.step == step]
        assert mine[-1].state == "succeeded" and mine[-1].percent == 100.0
        assert mine[0].job is not None and mine[0].job.id == finished.jobs[step - 1].id
        assert mine[-1].text == "Step %d of 4: %s succeeded" % (step, mine[0].kind)
    for e in steps:
        if e.state == RUNNING:
            assert e.text.startswith("Step %d of 4: %s · " % (e.step, e.kind)) and "%" in e.text
    assert [e.kind for e in steps if e.state == "succeeded"] == ["benchmark", "quantize", "benchmark", "accuracy"]
    assert [e.result.label for e in tracker.book.entries()] == ["detector fp32 ONNX Runtime",
                                                                "detector fp16 ONNX Runtime"]
    assert pipeline._on_job not in tracker.job_listeners  # it lets go of the tracker at the end


def test_cancel_from_another_thread_stops_the_running_step_and_the_rest(tracker: JobTracker,
                                                                        model_file: Path) -> None:
    events = Events()
    pipeline = OptimizePipeline(tracker, OptimizeChoice(str(model_file), "fp16", shapes=dict(SHAPES), seconds=60.0),
                                listener=events)
    thread = pipeline.start()
    events.wait_for(StepEvent, lambda e: e.step == 1 and e.state == RUNNING)
    pipeline.cancel()  # returns at once: the pipeline's thread sends the cancels
    finished = events.wait_for(Finished, timeout=60.0)
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert isinstance(finished, Finished) and finished.state == "cancelled"
    assert finished.text == "Cancelled at %s. Nothing after it ran." % job_title(finished.jobs[0])
    assert finished.result is None
    assert [j.state for j in finished.jobs] == ["cancelled"] * 4
    assert [tracker.job(j.id).state for j in finished.jobs] == ["cancelled"] * 4  # type: ignore[union-attr]


def test_a_failing_step_ends_the_pipeline_with_words_that_say_what_to_do(tracker: JobTracker,
                                                                        tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not a protobuf")
    events = Events()
    pipeline = OptimizePipeline(tracker, OptimizeChoice(str(broken), "fp16", shapes=dict(SHAPES), seconds=0.5),
                                listener=events)
    finished = pipeline.run()
    assert finished is not None and finished.state == "failed"
    assert finished.text.startswith("%s failed: " % job_title(finished.jobs[0]).capitalize())
    # The device's words for the step that failed: what happened and the next thing to do.
    assert "ONNX Runtime could not load %s" % broken in finished.text
    assert finished.text.endswith("Run the validate job on it to see why.")
    assert finished.result is None
    assert [j.state for j in finished.jobs] == ["failed", "cancelled", "cancelled", "cancelled"]
    failed = [e for e in events.steps() if e.state == "failed"]
    assert [e.step for e in failed] == [1]


def test_a_choice_that_cannot_run_is_refused_before_anything_is_sent(tracker: JobTracker, model_file: Path,
                                                                      tmp_path: Path) -> None:
    jobs_before = len(tracker.jobs())
    with pytest.raises(SpecError, match="INT8 needs calibration data"):
        OptimizePipeline(tracker, OptimizeChoice(str(model_file), "int8", shapes=dict(SHAPES)))
    with pytest.raises(SpecError, match="no-such-calibration does not exist; check the path"):
        OptimizePipeline(tracker, OptimizeChoice(str(model_file), "int8", shapes=dict(SHAPES),
                                                 calibration=str(tmp_path / "no-such-calibration")))
    with pytest.raises(SpecError, match="TensorRT is not installed on this device; choose ONNX Runtime"):
        OptimizePipeline(tracker, OptimizeChoice(str(model_file), "fp16", "trt", shapes=dict(SHAPES)))
    assert len(tracker.jobs()) == jobs_before


def test_the_model_check_validates_and_says_what_it_found(tracker: JobTracker, model_file: Path,
                                                          tmp_path: Path) -> None:
    events = Events()
    check = ModelCheck(tracker, str(model_file), listener=events)
    assert check.steps == 1 and check.local == model_file and check.model == str(model_file)
    assert check.opening() == "Validating detector.onnx…"
    done = check.run()
    assert isinstance(done, Validated) and done is events.seen[-1]
    assert done.text == "Valid · fp32 · 1 input · 24,682 parameters"
    assert done.report is not None and done.report.ok and done.report.model == str(model_file)
    assert done.job is not None and done.job.kind == "validate" and done.job.state == "succeeded"
    assert [type(e).__name__ for e in events.seen[:2]] == ["StepEvent", "Submitted"]
    assert events.steps()[0].text == "Validating detector.onnx…"
    assert events.steps()[-1].state == "succeeded" and events.steps()[-1].step == 1

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not a protobuf")
    done = ModelCheck(tracker, str(broken)).run()
    assert done is not None and done.text.startswith(("Not valid", "Validation failed"))
    assert "%s is not a readable ONNX model" % broken in done.text and "Re-export it" in done.text, done.text
    with pytest.raises(SpecError, match=r"missing\.onnx does not exist; check the path"):
        ModelCheck(tracker, str(tmp_path / "missing.onnx"))
    with pytest.raises(SpecError, match="pick an ONNX model to start"):
        ModelCheck(tracker, " ")
