"""``fleet deploy --limit-rate``: every upload of a rollout together stays under the cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.core.exit_codes import ExitCode
from console.core.fleet.bandwidth import SharedRate
from console.core.models.packages import build_package
from tests.support.lab import Lab
from tests.support.store import make_onnx

MB = 1_000_000


def test_the_cap_paces_every_upload_together_and_skips_bytes_already_held() -> None:
    now, waits = [0.0], []

    def wait(seconds: float) -> None:
        waits.append(round(seconds, 6))
        now[0] += seconds

    cap = SharedRate(1 * MB, lambda: now[0], wait)
    first, first_started = cap.follow()
    second, second_started = cap.follow()
    first_started(0, 3 * MB)
    second_started(1 * MB, 3 * MB)  # that device already held 1 MB: only the rest crosses the link
    first(1 * MB, 3 * MB)
    second(2 * MB, 3 * MB)
    first(1 * MB, 3 * MB)  # a report with nothing new sent costs nothing
    first(3 * MB, 3 * MB)
    assert waits == [1.0, 1.0, 2.0] and now[0] == 4.0
    with pytest.raises(ValueError, match="more than 0 bytes per second"):
        SharedRate(0)


def test_a_capped_rollout_takes_at_least_its_bytes_over_the_rate(lab: Lab, tmp_path: Path) -> None:
    package = tmp_path / "detector-2.0.0.tar.gz"
    build_package(make_onnx(tmp_path / "big.onnx", 7, padding_bytes=MB // 2), package, "detector", "2.0.0", "tests")
    size = package.stat().st_size
    code, record = lab.json("fleet", "deploy", str(package), "--tag", "lab", "--limit-rate", "2", "--json")
    assert code == ExitCode.OK, record
    assert record["plan"]["limit_bytes_per_s"] == 2 * MB
    uploads = [p for p in record["phases"] if p["phase"] == "upload"]
    assert len(uploads) == 4 and all(p["status"] == "ok" for p in uploads)
    took = max(p["started"] + p["seconds"] for p in uploads) - min(p["started"] for p in uploads)
    assert took >= 0.95 * 4 * size / (2 * MB), (took, size)
    assert lab.active() == dict.fromkeys(lab.sockets, "2.0.0")
    code, _, err = lab.run("fleet", "deploy", str(package), "--tag", "lab", "--limit-rate", "0")
    assert code == ExitCode.USAGE and "--limit-rate must be more than 0 MB/s" in err
