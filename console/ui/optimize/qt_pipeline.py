"""The Qt face of the Optimize wizard's core runs (:class:`~console.core.optimize.pipeline.ModelCheck`,
:class:`~console.core.optimize.pipeline.OptimizePipeline`), for the Optimize page.

A run goes on a plain thread of its own and calls its listener there; this adapter re-emits each
event as :attr:`QtOptimizePipeline.happened`, which Qt queues onto the GUI thread. The worker
thread holds no QObject of its own: the run is a core object, and the adapter (which lives and
dies on the GUI thread) only relays. Closing the adapter, or its deletion, stops following the run
(the jobs go on on the device).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from console.core.optimize.pipeline import Finished, OptimizeRun, PipelineEvent, Validated


class _Current:
    """The run being followed; closed when the adapter goes (a plain object, safe to call on destroy)."""

    def __init__(self) -> None:
        self.pipeline: OptimizeRun[Any] | None = None

    def close(self) -> None:
        pipeline, self.pipeline = self.pipeline, None
        if pipeline is not None:
            pipeline.close()


class QtOptimizePipeline(QObject):
    happened = Signal(object)  # a PipelineEvent of the run being followed, on the GUI thread
    _relayed = Signal(object, object)  # the run, its event: queued from the run's thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._current = _Current()
        self._active = False  # from start() until its last event reaches the GUI thread
        self.destroyed.connect(self._current.close)
        self._relayed.connect(self._on_relayed)

    @property
    def pipeline(self) -> OptimizeRun[Any] | None:
        return self._current.pipeline

    @property
    def active(self) -> bool:
        return self._active

    def start(self, pipeline: OptimizeRun[Any]) -> None:
        """Run ``pipeline`` on its own thread and relay its events (call on the GUI thread); a run
        followed before is closed, and what it said after that is dropped."""
        self._current.close()
        relayed = self._relayed
        pipeline.listener = lambda event: relayed.emit(pipeline, event)
        self._current.pipeline = pipeline
        self._active = True
        pipeline.start()

    def cancel(self) -> None:
        pipeline = self._current.pipeline
        if pipeline is not None:
            pipeline.cancel()

    def close(self) -> None:
        self._active = False
        self._current.close()

    def _on_relayed(self, run: object, event: PipelineEvent) -> None:  # on the GUI thread
        if run is not self._current.pipeline:
            return  # a run closed since: its late words are not the page's any more
        if isinstance(event, (Finished, Validated)):
            self._active = False
        self.happened.emit(event)
