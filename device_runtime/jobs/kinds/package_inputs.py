"""What a package says about its model's inputs, when the model sits beside the package's manifest (a
stored version, or an unpacked package): the warm-up shapes it recorded and its sample ``.npz``.

Build uses the shapes as a fixed optimization profile when no ``--shape`` is given; bench and accuracy
feed the sample when no data and no shapes are given. A model without a manifest beside it, or one
that is not the manifest's ONNX, gives nothing; an unreadable manifest is the store's to report.
"""

from __future__ import annotations

import os
from typing import Dict, List, NamedTuple, Optional


class PackageInputs(NamedTuple):
    package: str  # "name version"
    shapes: Dict[str, List[int]]
    sample: Optional[str]  # the sample's path on this device


def package_inputs(model_path: str) -> Optional[PackageInputs]:
    from device_runtime.package_format.manifest import MANIFEST_FILE
    from device_runtime.store.verify import read_manifest

    folder = os.path.dirname(os.path.abspath(model_path))
    if not os.path.isfile(os.path.join(folder, MANIFEST_FILE)):
        return None
    try:
        manifest = read_manifest(folder)
    except Exception:
        return None
    onnx_files = {entry.path for entry in manifest.files if entry.path.endswith(".onnx")}
    if os.path.basename(model_path) not in onnx_files or manifest.warmup is None:
        return None
    sample = manifest.warmup.sample
    sample_path = os.path.join(folder, sample) if sample and os.path.isfile(os.path.join(folder, sample)) else None
    return PackageInputs("%s %s" % (manifest.name, manifest.version), dict(manifest.warmup.shapes), sample_path)
