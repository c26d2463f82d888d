"""The optional Prometheus endpoint: address rules, the text format, and a scrape of a real daemon."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from device_runtime import protocol as p
from device_runtime.prometheus import Address, metric_names, parse_address, render
from tests.runtime.test_alerts_daemon import BoardDaemon


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


def test_names_are_sanitised_and_unique_and_units_are_in_help() -> None:
    specs = [
        p.MetricSpec("temp.cpu-therm", "CPU-therm", "°C", "Temperature", "Temperatures"),
        p.MetricSpec("temp.cpu_therm", "cpu therm", "°C", "Temperature", "Temperatures"),
        p.MetricSpec("jetson.oc.3.events", "OC3", "", "Power", "Over-current throttling", kind=p.COUNTER),
        p.MetricSpec("power.vdd_in", "VDD_IN", "mW", "Power", "Power rails", description="line\none \\ two"),
    ]
    names = metric_names(specs)
    assert names == {"temp.cpu-therm": "edge_temp_cpu_therm", "temp.cpu_therm": "edge_temp_cpu_therm_2",
                     "jetson.oc.3.events": "edge_jetson_oc_3_events", "power.vdd_in": "edge_power_vdd_in"}
    text = render(specs, {"temp.cpu-therm": 44.5, "jetson.oc.3.events": 2.0, "power.vdd_in": 9250.0})
    assert "# HELP edge_temp_cpu_therm Temperatures: CPU-therm [°C]\n# TYPE edge_temp_cpu_therm gauge\n" \
           "edge_temp_cpu_therm 44.5\n" in text
    assert "# TYPE edge_jetson_oc_3_events counter\nedge_jetson_oc_3_events 2.0\n" in text
    assert "# HELP edge_power_vdd_in Power rails: VDD_IN [mW]. line\\none \\\\ two\n" in text
    assert "edge_temp_cpu_therm_2" not in text  # absent this sample: left out, not 0
    assert render(specs, {}) == ""


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
        body = scrape_until(address, "edge_power_vdd_in ")
        assert "# HELP edge_power_vdd_in Power rails: VDD_IN [mW]" in body
        assert re.search(r"^edge_power_vdd_in 9250\.\d+$", body, re.MULTILINE)
        assert "# TYPE edge_jetson_oc_3_events counter" in body and "\nedge_temp_tj_thermal 47.5\n" in body
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
