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
    happened = Signal(object)  # a PipelineEvent, delivered on the GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._current = _Current()
        self._active = False  # from start() until its Finished event reaches the GUI thread
        self.destroyed.connect(self._current.close)
        self.happened.connect(self._on_event)

    @property
    def pipeline(self) -> OptimizeRun[Any] | None:
        return self._current.pipeline

    @property
    def active(self) -> bool:
        return self._active

    def start(self, pipeline: OptimizeRun[Any]) -> None:
        """Run ``pipeline`` on its own thread and relay its events (call on the GUI thread)."""
        self._current.close()
        pipeline.listener = self._relay
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

    def _relay(self, event: PipelineEvent) -> None:  # on the pipeline's thread
        self.happened.emit(event)

    def _on_event(self, event: PipelineEvent) -> None:  # on the GUI thread, before the page's slot
        if isinstance(event, (Finished, Validated)):
            self._active = False
