"""The "Deploy this result" step under an Optimize pipeline: the result goes to the device as the
next version of one of its models (chosen in a list, the version computed), through the Models
page's own deploy, so the version history stays one line per model. The same row under the Optimize
form's model deploys the chosen model as it is, before any run."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QMessageBox, QPushButton, QVBoxLayout, QWidget

from console.core.devices.first_launch import DEMO_KEY
from console.core.devices.keys import KeyStore
from console.core.models.tracker import default_model_name, succeeded
from console.core.optimize.deploy_result import version_after
from console.ui.charts.chart import plain_label
from console.ui.models.qt_models import OnnxBuild, QtModels
from device_runtime.protocol import StoreAction


class DeployResultRow(QWidget):
    def __init__(self, title: str = "Deploy this result as a new version of",
                 why: str = "optimised on the Optimize page", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store: QtModels | None = None
        self.keys_dir: Path | None = None
        self.result: Path | None = None
        self.tag: str | None = None
        self.why = why  # the reason kept in the device's activation history
        self.title = plain_label(title)
        self.models = QComboBox()
        self.models.setMinimumHeight(32)
        self.version = plain_label("")
        self.deploy_button = QPushButton("Deploy…")
        self.deploy_button.setMinimumHeight(32)
        self.status = plain_label("")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.models, 1)
        row.addWidget(self.version)
        row.addWidget(self.deploy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.models.currentIndexChanged.connect(self._show_version)
        self.deploy_button.clicked.connect(self.deploy)
        self.setVisible(False)

    def set_store(self, store: QtModels, keys_dir: Path) -> None:
        self.store, self.keys_dir = store, keys_dir
        store.finished.connect(self._on_finished)
        store.refused.connect(lambda tag, refusal: self._on_done(tag, False, refusal.text()))  # what, and what to do

    def offer(self, result: str | None, on_this_computer: bool, device: str) -> None:
        """Show the step for a finished pipeline's ``result`` (a path on the device)."""
        self.setVisible(True)
        self.tag = None
        ready = result is not None and on_this_computer and self.store is not None
        self.result = Path(result) if ready and result is not None else None
        for widget in (self.models, self.version, self.deploy_button):
            widget.setVisible(ready)
        if result is None:
            self.status.setText("This pipeline ends in a TensorRT engine: package it with its ONNX "
                                "(edgectl package build --engine) and deploy that package.")
            return
        if not ready:
            self.status.setText("The result is on %s (%s); a package is built on this computer, so copy it here "
                                "and deploy it from the Models page." % (device, result))
            return
        assert self.store is not None
        names = sorted(self.store.tracker.snapshot.models)
        new = default_model_name(Path(result))
        self.models.blockSignals(True)
        self.models.clear()
        for name in names:
            self.models.addItem(name, name)
        self.models.addItem("a new model %s" % new, new)
        self.models.blockSignals(False)
        self.status.setText("")
        self._show_version()

    def target(self) -> tuple[str, str] | None:
        name = self.models.currentData()
        if not isinstance(name, str) or self.store is None:
            return None
        return name, version_after(self.store.tracker.snapshot, name)

    def _show_version(self) -> None:
        target = self.target()
        self.version.setText("→ version %s" % target[1] if target else "")

    def confirm(self, text: str) -> bool:
        return QMessageBox.question(self, "Deploy", text) == QMessageBox.StandardButton.Yes

    def deploy(self) -> None:
        target = self.target()
        if target is None or self.result is None or self.store is None:
            return
        name, version = target
        if not self.confirm("Deploy %s to %s as %s %s? It is checked and switched in; if anything fails, the "
                            "active version stays." % (self.result.name, self.store.display_name, name, version)):
            return
        keys = KeyStore(self.keys_dir) if self.keys_dir is not None else None
        key = DEMO_KEY if keys is not None and any(k.name == DEMO_KEY and k.private_path for k in keys.list()) else None
        self.deploy_button.setEnabled(False)
        self.status.setText("Deploying %s %s…" % (name, version))
        self.tag = self.store.deploy(self.result, OnnxBuild(name, version, key), why=self.why)

    def _on_finished(self, tag: str, action: StoreAction) -> None:
        self._on_done(tag, succeeded(action), action.message)

    def _on_done(self, tag: str, ok: bool, message: str) -> None:
        if tag != self.tag:
            return
        self.deploy_button.setEnabled(True)
        self.status.setText(("Done: %s." if ok else "Not deployed: %s.") % message.rstrip("."))
