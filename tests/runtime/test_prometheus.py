"""The optional Prometheus endpoint: address rules, the text format, and a scrape of a real daemon."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from device_runtime import __version__
from device_runtime import protocol as p
from device_runtime.collectors import default_collectors
from device_runtime.latency.aggregate import LatencyAggregator
from device_runtime.prometheus import Address, Identity, parse_address, plan, render
from device_runtime.report import LATENCY_SOCKET_NAME, LatencyReporter
from tests.support.board_daemon import BoardDaemon, robot_sample
from tests.support.exposition import check
from tests.support.wire import RawClient

BOARDS = Path(__file__).resolve().parents[1] / "fixtures" / "boards"
INSTALLERS = Path(__file__).resolve().parents[2] / "installers"
DASHBOARD = INSTALLERS / "grafana" / "edge-runtime-dashboard.json"


@pytest.mark.parametrize(("text", "address"), [
    ("127.0.0.1:9100", Address("127.0.0.1", 9100, None)),
    ("localhost:9100", Address("127.0.0.1", 9100, None)),
    ("[::1]:9100", Address("::1", 9100, None)),
    ("127.0.0.2:0", Address("127.0.0.2", 0, None)),
    ("unix:/run/edge/metrics.sock", Address(None, 0, "/run/edge/metrics.sock")),
])
def test_loopback_and_unix_addresses_are_accepted(text: str, address: Address) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize(("text", "words"), [
    ("0.0.0.0:9100", "refusing to serve Prometheus metrics on 0.0.0.0:9100"),
    ("192.168.1.20:9100", "opens no network port"),
    ("[::]:9100", "refusing"),
    ("robot.local:9100", "needs an IP address"),
    ("9100", "not an address"),
    ("127.0.0.1:99999", "out of range"),
    ("unix:", "needs a socket path"),
])
def test_anything_else_is_refused_with_a_reason(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        parse_address(text)


def test_families_follow_the_naming_rules_with_labels_and_base_units() -> None:
    specs = [
        p.MetricSpec("temp.cpu-therm", "CPU-therm", "°C", "Temperature", "Temperatures"),
        p.MetricSpec("temp.tj-thermal", "tj", "°C", "Temperature", "Temperatures"),
        p.MetricSpec("jetson.oc.3.events", "OC3", "", "Power", "Over-current throttling", kind=p.COUNTER),
        p.MetricSpec("power.vdd_in", "VDD_IN", "mW", "Power", "Power rails"),
        p.MetricSpec("cpu.core.1.freq", "core 1", "MHz", "CPU", "CPU frequency"),
        p.MetricSpec("mem.used", "RAM used", "MB", "Memory", "Memory"),
        p.MetricSpec("jetson.gpu.load", "GPU", "%", "GPU", "GPU load"),
        p.MetricSpec("gpu.0.util", "GPU", "%", "GPU", "GPU load"),  # the same series from NVML: kept apart
        p.MetricSpec("vendor.board-heat_total", "heat", "mW", "Power", "Vendor", description="a\nb \\ c"),
        p.MetricSpec("vendor.wear", "wear", "cycles", "Misc", "Vendor"),
        p.MetricSpec("vendor.resets", "resets", "", "Misc", "Vendor", kind=p.COUNTER),
        p.MetricSpec("temperature", "board", "°C", "Misc", "Vendor"),  # a rule's family name: kept apart
    ]
    series = plan(specs)
    assert {name: (s.family.name, dict(s.labels), s.scale) for name, s in series.items()} == {
        "temp.cpu-therm": ("edge_temperature_celsius", {"sensor": "cpu-therm"}, 1.0),
        "temp.tj-thermal": ("edge_temperature_celsius", {"sensor": "tj-thermal"}, 1.0),
        "jetson.oc.3.events": ("edge_overcurrent_throttle_events_total", {"oc": "3"}, 1.0),
        "power.vdd_in": ("edge_power_rail_watts", {"rail": "vdd_in"}, 1e-3),
        "cpu.core.1.freq": ("edge_cpu_frequency_hertz", {"core": "1"}, 1e6),
        "mem.used": ("edge_memory_used_bytes", {}, 1024.0 * 1024.0),
        "jetson.gpu.load": ("edge_gpu_utilization_ratio", {"gpu": "0"}, 0.01),
        "gpu.0.util": ("edge_gpu_0_util_ratio", {}, 0.01),
        "vendor.board-heat_total": ("edge_vendor_board_heat_total_watts", {}, 1e-3),
        "vendor.wear": ("edge_vendor_wear", {}, 1.0),
        "vendor.resets": ("edge_vendor_resets_total", {}, 1.0),
        "temperature": ("edge_temperature_2_celsius", {}, 1.0),
    }
    values = {"temp.cpu-therm": 44.5, "temp.tj-thermal": 47.25, "jetson.oc.3.events": 2.0, "power.vdd_in": 9250.0,
              "cpu.core.1.freq": 1728.0, "mem.used": 1024.0, "jetson.gpu.load": 99.5, "gpu.0.util": 98.0,
              "vendor.board-heat_total": 1.0, "vendor.resets": 4.0}
    text = render(specs, values, identity=Identity("robot-a", "NVIDIA Jetson Orin Nano", None, "36.4.7", "6.2"),
                  sampled_at=1700000000.5)
    assert ("# HELP edge_temperature_celsius Temperature of one thermal zone.\n"
            "# TYPE edge_temperature_celsius gauge\n"
            'edge_temperature_celsius{sensor="cpu-therm"} 44.5\n'
            'edge_temperature_celsius{sensor="tj-thermal"} 47.25\n') in text
    assert "edge_vendor_board_heat_total_watts 0.001\n" in text and "a\\nb \\\\ c" in text
    assert "edge_vendor_wear" not in text  # absent this sample: left out, not 0
    got = check(text)
    assert got.value("edge_power_rail_watts", rail="vdd_in") == 9.25
    assert got.value("edge_cpu_frequency_hertz", core="1") == 1728e6
    assert got.value("edge_memory_used_bytes") == 1024.0 ** 3
    assert got.value("edge_gpu_utilization_ratio", gpu="0") == 0.995
    assert got.value("edge_overcurrent_throttle_events_total", oc="3") == 2.0
    assert got.value("edge_device_info", hostname="robot-a", model="NVIDIA Jetson Orin Nano", l4t="36.4.7",
                     jetpack="6.2", version=__version__) == 1.0
    assert got.value("edge_telemetry_last_sample_timestamp_seconds") == 1700000000.5
    assert render(specs, {}) == ""


def test_label_values_are_escaped_and_odd_numbers_written_as_prometheus_reads_them() -> None:
    odd = 'zone "a"\\b\nc'
    specs = [p.MetricSpec("temp." + odd, "odd", "°C", "Temperature", "Temperatures"),
             p.MetricSpec("vendor.level", "level", "°C", "Misc", "Vendor")]
    text = render(specs, {"temp." + odd: 41.0, "vendor.level": float("inf")})
    assert 'edge_temperature_celsius{sensor="zone \\"a\\"\\\\b\\nc"} 41.0\n' in text
    assert "edge_vendor_level_celsius +Inf\n" in text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["edge_temperature_celsius"].samples[0].labels == {"sensor": odd}
    assert families["edge_vendor_level_celsius"].samples[0].value == float("inf")


def test_latency_is_a_summary_with_window_quantiles_and_counts_since_start() -> None:
    aggregator = LatencyAggregator()
    aggregator.add("detector", 100.0, {"total": 0.012, "infer": 0.008})
    aggregator.add("detector", 100.2, {"total": 0.016, "infer": 0.010})
    aggregator.add_many(p.PROBE_SOURCE_PREFIX + "yolo", [100.0, 100.5], {"total": [0.02, 0.03]})
    text = render([], {}, latency=aggregator.windows(101.0), latency_totals=aggregator.totals)
    got = check(text)
    assert got.types == {"edge_inference_latency_seconds": "summary"}
    app = {"model": "detector", "origin": "app", "stage": "total"}
    assert got.value("edge_inference_latency_seconds", quantile="0.5", **app) == 0.012
    assert got.value("edge_inference_latency_seconds", quantile="0.99", **app) == 0.016
    samples = got.samples["edge_inference_latency_seconds"]
    assert ("edge_inference_latency_seconds_count", app, 2.0) in samples
    assert [v for n, labels, v in samples if n.endswith("_sum") and labels == app] == [pytest.approx(0.028)]
    assert ("edge_inference_latency_seconds_count", {"model": "yolo", "origin": "probe", "stage": "total"},
            2.0) in samples
    # The window ends when the source falls silent; what was counted stays (a counter never goes back).
    quiet = render([], {}, latency=aggregator.windows(200.0), latency_totals=aggregator.totals)
    assert 'quantile="' not in quiet and 'edge_inference_latency_seconds_count{model="detector"' in quiet


def http_get(address: str, path: str = "/metrics") -> tuple[str, str]:
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(address[5:])
    else:
        host, _, port = address.rpartition(":")
        sock = socket.create_connection((host, int(port)), timeout=10)
    with sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: device\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.decode().partition("\r\n\r\n")
    return head, body


def bound_address(daemon: BoardDaemon) -> str:
    """The endpoint is bound before the daemon reports ready, so its log line is already there."""
    match = re.search(r"Prometheus metrics on (\S+) \(GET /metrics\)", daemon.log)
    assert match, daemon.log
    return match.group(1)


def scrape_until(address: str, needle: str) -> str:
    deadline = time.monotonic() + 10
    while True:
        head, body = http_get(address)
        assert head.startswith("HTTP/1.1 200") and "text/plain; version=0.0.4" in head
        if needle in body or time.monotonic() > deadline:
            return body
        time.sleep(0.05)  # ok: an HTTP endpoint has no push; poll for its first sample, bounded by the deadline


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_scrape_a_real_daemon_on_a_fixture_board(short_tmp: Path, kind: str) -> None:
    daemon = BoardDaemon(short_tmp, "orin-nano")
    where = "127.0.0.1:0" if kind == "tcp" else f"unix:{short_tmp / 'rt' / 'metrics.sock'}"
    start = daemon.args
    daemon.args = lambda: [*start(), "--prometheus", where]  # type: ignore[method-assign]
    daemon.start()
    try:
        address = bound_address(daemon)
        with LatencyReporter("detector", str(daemon.socket.parent / LATENCY_SOCKET_NAME)) as reporter:
            for ms in (11.0, 12.0, 13.0):
                reporter.record(ms / 1000.0, infer=ms / 2000.0)
        # Counts grow as records arrive; quantiles come with the latency service's next window.
        body = scrape_until(address, 'edge_inference_latency_seconds{model="detector",origin="app",stage="total",'
                                     'quantile="0.5"} 0.012\n')
        got = check(body)
        assert got.value("edge_power_rail_watts", rail="vdd_in") == pytest.approx(9.2503, abs=1e-3)
        assert got.value("edge_temperature_celsius", sensor="tj-thermal") == 47.5
        assert got.value("edge_overcurrent_throttle_events_total", oc="3") >= 0
        assert ("edge_inference_latency_seconds_count", {"model": "detector", "origin": "app", "stage": "total"},
                3.0) in got.samples["edge_inference_latency_seconds"]
        [(_, info, _)] = got.samples["edge_device_info"]  # the identity the console's handshake shows
        raw = RawClient(daemon.socket)
        caps = raw.handshake().capabilities
        raw.close()
        assert info == {key: value for key, value in {
            "hostname": caps.hostname, "model": caps.board_model, "board": caps.board, "l4t": caps.l4t,
            "jetpack": caps.jetpack, "version": __version__}.items() if value}
        # Every reading of the robot's telemetry is there, in its family's base unit.
        specs, values = robot_sample(daemon)
        series = plan(specs)
        for name, value in values.items():
            if name.startswith(("cpu.", "mem.", "disk.", "net.")) and not name.endswith("freq"):
                continue  # changes between two samples on a live board; the fixture's sysfs does not
            item = series[name]
            assert got.value(item.family.name, **dict(item.labels)) == pytest.approx(value * item.scale), name
        assert http_get(address, "/other")[0].startswith("HTTP/1.1 404")
        client = daemon.client()  # the console protocol is unaffected
        assert isinstance(client.call("ping"), p.Response)
        client.close()
    finally:
        daemon.stop()
    if kind == "unix":
        assert not (short_tmp / "rt" / "metrics.sock").exists()


def test_serve_refuses_a_non_loopback_address(short_tmp: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "device_runtime", "serve", "--socket", str(short_tmp / "s.sock"),
         "--root", str(short_tmp / "root"), "--prometheus", "0.0.0.0:9100"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "refusing to serve Prometheus metrics on 0.0.0.0:9100" in result.stderr
    assert "127.0.0.1:PORT" in result.stderr and not (short_tmp / "s.sock").exists()


def exported_families() -> dict[str, set[str]]:
    """Family -> label names, for everything the runtime serves on the fixture boards and on this
    machine (the board trees hold no CPU, disk or network counters), and latency."""
    out: dict[str, set[str]] = {
        "edge_device_info": set(Identity._fields), "edge_telemetry_last_sample_timestamp_seconds": set()}
    for name in ("edge_inference_latency_seconds", "edge_inference_latency_seconds_count",
                 "edge_inference_latency_seconds_sum"):
        out[name] = {"model", "origin", "stage"} | ({"quantile"} if name.endswith("seconds") else set())
    boards = sorted(path for path in BOARDS.iterdir() if (path / "sys").is_dir())
    for roots in [{f"{part}_root": str(board / part) for part in ("sys", "proc", "etc", "var")} for board in boards] + [
            {}]:
        collectors = default_collectors(**roots)
        try:
            for item in plan([spec for c in collectors for spec in c.metrics()]).values():
                out.setdefault(item.family.name, set()).update(key for key, _ in item.labels)
        finally:
            for collector in collectors:
                collector.close()
    return out


def test_the_dashboard_queries_only_what_the_runtime_exports() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_families()
    target_labels = {"device", "job", "instance"}  # the scrape config's and Prometheus' own
    exported["up"] = set()
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    assert {"device", "datasource"} == {v["name"] for v in dashboard["templating"]["list"]}
    queried: set[str] = set()
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            for name, matchers in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}", expr):
                assert name in exported, (panel["title"], name)
                used = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*=~?", matchers))
                assert used <= exported[name] | target_labels, (panel["title"], name, used - exported[name])
                queried.add(name)
            for by in re.findall(r"by \(([^)]*)\)", expr):
                assert {label.strip() for label in by.split(",")} <= target_labels, (panel["title"], by)
            assert set(re.findall(r"\bedge_\w+", expr)) <= queried, expr  # each one checked above
    # Panels for what a lab watches: GPU, CPU, memory, temperature, power and inference latency.
    assert {"edge_gpu_utilization_ratio", "edge_cpu_utilization_ratio", "edge_cpu_frequency_hertz",
            "edge_memory_used_bytes", "edge_temperature_celsius", "edge_power_rail_watts",
            "edge_inference_latency_seconds", "edge_inference_latency_seconds_count"} <= queried


def test_the_shipped_scrape_config_and_tunnel_unit_are_valid(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install Debian's prometheus package (installers/dev/system-packages.sh)"
    check_config = subprocess.run([promtool, "check", "config", str(INSTALLERS / "prometheus" / "prometheus.yml")],
                                  capture_output=True, text=True, timeout=60, check=False)
    assert check_config.returncode == 0, check_config.stdout + check_config.stderr
    unit = tmp_path / "edge-metrics-tunnel@robot-a.service"  # an instance of the template
    shutil.copy(INSTALLERS / "prometheus" / "edge-metrics-tunnel@.service", unit)
    verify = subprocess.run(["systemd-analyze", "verify", unit.name], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60, check=False)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr


GOOD = "# HELP edge_x_celsius x.\n# TYPE edge_x_celsius gauge\nedge_x_celsius{sensor=\"a\"} 40.0\n"


@pytest.mark.parametrize(("text", "words"), [
    (GOOD.replace("edge_x_celsius", "edge_x_millicelsius"), 'use base unit "celsius"'),  # promtool
    (GOOD.replace("edge_x_celsius", "edge_x"), "base-unit suffix"),
    (GOOD.replace("gauge", "counter").replace("edge_x_celsius", "edge_x_events"), "_total"),
    (GOOD + 'edge_x_celsius{sensor="a"} 41.0\n', "duplicate series"),
    (GOOD + GOOD.replace("edge_x", "edge_y") + 'edge_x_celsius{sensor="b"} 41.0\n', "outside its family"),
    (GOOD.replace("40.0", "400.0"), "implausible"),
    (GOOD.replace('"a"', '""'), "empty label value"),
    (GOOD.replace("# HELP edge_x_celsius x.\n", ""), "no help text"),  # promtool
    (GOOD.replace("edge_x_celsius", "edge_x_kb_celsius"), "abbreviated units"),  # promtool
    (GOOD.replace("edge_x_celsius", "edge_x_mhz_celsius"), "not a base unit"),  # promtool lets it pass
    (GOOD.replace("\nedge_x", "\n\nedge_x"), "an empty line"),
])
def test_the_exposition_check_catches_what_breaks_the_rules(text: str, words: str) -> None:
    check(GOOD)
    with pytest.raises(AssertionError, match=re.escape(words)):
        check(text)
