"""Deploy this result: after an FP16 pipeline on the built-in device, the result goes to the device as
the next version of the model it came from (the demo model the first launch deployed), not as a new
model named after the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from console.core.jobs.tracker import is_final
from console.ui.main_window import MainWindow
from console.ui.optimize.page import OptimizePage
from device_runtime.demo_model import DEMO_NAME
from device_runtime.protocol import Empty, StoreModelRef, StoreModels, StoreVersions

pytestmark = pytest.mark.gui


@pytest.mark.timeout(300)
def test_an_optimised_result_is_deployed_as_the_next_version_of_its_model(qtbot: QtBot, window: MainWindow) -> None:
    store = window.store_models["local"]
    qtbot.waitUntil(lambda: DEMO_NAME in store.tracker.snapshot.models, timeout=30_000)
    window.show_page("optimize")
    page = window.page("optimize")
    assert isinstance(page, OptimizePage)
    page.demo.click()
    qtbot.waitUntil(lambda: page.report is not None and page.report.ok, timeout=60_000)
    page.form.precision.setCurrentIndex(page.form.precision.findData("fp16"))
    page.form.seconds.setValue(0.5)
    page.start.click()
    tracker = page.model.tracker
    qtbot.waitUntil(lambda: bool(page.pipeline_ids) and all(
        (j := tracker.job(i)) is not None and is_final(j) for i in page.pipeline_ids), timeout=180_000)
    row = page.deploy_result
    qtbot.waitUntil(lambda: row.isVisibleTo(page) and row.models.count() > 0, timeout=10_000)
    assert row.models.currentData() == DEMO_NAME and row.version.text() == "→ version 1.0.1"
    assert row.models.itemText(row.models.count() - 1) == "a new model edge-demo-classifier.fp16"
    asked: list[str] = []
    row.confirm = lambda text: asked.append(text) or True  # type: ignore[method-assign]
    row.deploy_button.click()
    assert asked == ["Deploy edge-demo-classifier.fp16.onnx to This computer as %s 1.0.1? It is checked and "
                     "switched in; if anything fails, the active version stays." % DEMO_NAME]
    qtbot.waitUntil(lambda: row.status.text().startswith(("Done:", "Not deployed:")), timeout=120_000)
    assert row.status.text().startswith("Done:"), row.status.text()
    session = store.session_model.session
    versions = session.request("store.versions", StoreModelRef(DEMO_NAME))
    assert isinstance(versions, StoreVersions) and versions.active == "1.0.1"
    models = session.request("store.models", Empty())
    assert isinstance(models, StoreModels) and [m.name for m in models.models] == [DEMO_NAME]  # no ".fp16" model


@pytest.mark.timeout(300)
def test_the_chosen_model_is_deployed_as_the_next_version_before_any_run(qtbot: QtBot, window: MainWindow,
                                                                          tmp_path: Path) -> None:
    import onnx

    from device_runtime.demo_model import build_demo_model

    store = window.store_models["local"]
    qtbot.waitUntil(lambda: DEMO_NAME in store.tracker.snapshot.models, timeout=30_000)
    retrained = tmp_path / "classifier-retrained.onnx"
    onnx.save(build_demo_model(), str(retrained))
    window.show_page("optimize")
    page = window.page("optimize")
    assert isinstance(page, OptimizePage)
    row = page.deploy_model
    assert not row.isVisibleTo(page)  # nothing valid chosen yet
    page.choose_model(str(retrained))
    qtbot.waitUntil(lambda: page.report is not None and page.report.ok, timeout=60_000)
    qtbot.waitUntil(lambda: row.isVisibleTo(page) and row.models.count() > 0, timeout=10_000)
    assert row.title.text() == "Deploy this model as it is, as a new version of"
    assert row.models.currentData() == DEMO_NAME and row.version.text() == "→ version 1.0.1"
    asked: list[str] = []
    row.confirm = lambda text: asked.append(text) or True  # type: ignore[method-assign]
    good = retrained.read_bytes()
    retrained.write_bytes(good[: len(good) // 2])  # cut short after it was checked: what happened, what to do
    row.deploy_button.click()
    qtbot.waitUntil(lambda: row.status.text().startswith("Not deployed:"), timeout=60_000)
    assert "%s is not an ONNX model" % retrained in row.status.text()
    assert "Nothing was sent to This computer" in row.status.text() and "deploy again" in row.status.text()
    assert row.deploy_button.isEnabled()
    retrained.write_bytes(good)
    asked.clear()
    row.deploy_button.click()
    assert asked == ["Deploy classifier-retrained.onnx to This computer as %s 1.0.1? It is checked and switched in; "
                     "if anything fails, the active version stays." % DEMO_NAME]
    qtbot.waitUntil(lambda: row.status.text().startswith(("Done:", "Not deployed:")), timeout=120_000)
    assert row.status.text().startswith("Done:"), row.status.text()
    assert page.pipeline_ids == []  # no pipeline ran
    session = store.session_model.session
    versions = session.request("store.versions", StoreModelRef(DEMO_NAME))
    assert isinstance(versions, StoreVersions) and versions.active == "1.0.1"
    page.choose_model(str(tmp_path / "missing.onnx"))
    assert not row.isVisibleTo(page)  # the row follows the chosen model
