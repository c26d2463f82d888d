"""Prometheus beyond the lab: a real Prometheus (Debian's package) scrapes two simulated robots,
each a real sshd with a runtime on a Jetson board tree serving metrics on a unix socket, through
SSH tunnels run with the command line of the shipped ``edge-metrics-tunnel@.service``, configured
from the shipped ``prometheus.yml``; the series come back through Prometheus' HTTP API with the
robots' own telemetry values, and every query of the shipped Grafana dashboard answers data.
``edgectl metrics-tunnel`` opens the same tunnel from the console's registry."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from console.core.devices.registry import DeviceRegistry
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from device_runtime.prometheus import plan
from device_runtime.report import LATENCY_SOCKET_NAME, LatencyReporter
from tests.support.board_daemon import BoardDaemon, robot_sample
from tests.support.exposition import check
from tests.support.ssh import SshServer, SshWorld, free_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "installers" / "prometheus" / "prometheus.yml"
UNIT = ROOT / "installers" / "prometheus" / "edge-metrics-tunnel@.service"
DASHBOARD = ROOT / "installers" / "grafana" / "edge-runtime-dashboard.json"
DEADLINE_S = 60.0


def poll(what: str, probe: Any, deadline_s: float = DEADLINE_S) -> Any:
    """``probe()`` until it returns something true. Prometheus is an external server with no push:
    its readiness and its next scrape are polled, bounded by the deadline."""
    deadline = time.monotonic() + deadline_s
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.2)  # ok: polling an external server's HTTP API, bounded by the deadline
    raise AssertionError("%s: not within %.0f s (last answer %r)" % (what, deadline_s, last))


@dataclass
class Tunnel:
    """``ssh -N -L 127.0.0.1:PORT:SOCKET HOST`` from the shipped unit; ready once ssh serves."""

    argv: list[str]
    port: int
    proc: subprocess.Popen[str] = field(init=False)
    log: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._drain, daemon=True).start()
        if not self.ready.wait(DEADLINE_S) or self.proc.poll() is not None:
            raise AssertionError("the SSH tunnel did not open:\n" + "\n".join(self.log[-30:]))
        assert any("Local forwarding listening on 127.0.0.1 port %d" % self.port in line for line in self.log)

    def _drain(self) -> None:  # ssh -v logs every forwarded connection: keep its pipe empty
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line.rstrip())
            if "Entering interactive session." in line:  # logged once the forwarding listeners are bound
                self.ready.set()
        self.ready.set()  # ssh exited

    def stop(self) -> None:
        if hasattr(self, "proc"):
            self.proc.terminate()
            self.proc.wait(timeout=30)


def tunnel_argv(ssh_config: Path, host: str, port: int, socket: Path) -> list[str]:
    """The unit's ExecStart with its variables filled in, reading the test's ssh_config (-F) verbosely."""
    [line] = [line for line in UNIT.read_text().splitlines() if line.startswith("ExecStart=")]
    argv = shlex.split(line[len("ExecStart="):])
    filled = [arg.replace("${PORT}", str(port)).replace("${SOCKET}", str(socket)).replace("%i", host)
              for arg in argv]
    assert filled[0] == "/usr/bin/ssh" and filled[-1] == host
    return [shutil.which("ssh") or filled[0], "-F", str(ssh_config), "-v", *filled[1:]]


@dataclass
class Robot:
    name: str
    server: SshServer
    daemon: BoardDaemon
    metrics_socket: Path


def start_robot(name: str, board: str, server: SshServer, tmp: Path) -> Robot:
    """A board's runtime on the robot's side of ``server``, its metrics socket in the runtime
    directory (as the system runtime's /run/edge-runtime/metrics.sock)."""
    daemon = BoardDaemon(tmp / name, board)
    # The board trees hold no CPU counters; the simulated robot's CPU is this machine's.
    (daemon.board / "proc" / "stat").symlink_to("/proc/stat")
    socket = server.remote_runtime_dir / "edge-runtime" / "metrics.sock"
    start = daemon.args
    daemon.args = lambda: [*start(), "--prometheus", f"unix:{socket}"]  # type: ignore[method-assign]
    daemon.start()
    return Robot(name, server, daemon, socket)


class PrometheusServer:
    def __init__(self, tmp: Path, targets: dict[str, int]) -> None:
        binary = shutil.which("prometheus")
        assert binary, "prometheus not found: install Debian's prometheus package (installers/dev/system-packages.sh)"
        config = yaml.safe_load(CONFIG.read_text())
        config["global"]["scrape_interval"] = "1s"
        [job] = config["scrape_configs"]
        assert job["job_name"] == "edge-runtime" and [t["labels"]["device"] for t in job["static_configs"]] == [
            "robot-a", "robot-b"]
        job.update(scrape_interval="1s", scrape_timeout="1s")
        job["static_configs"] = [{"targets": ["127.0.0.1:%d" % port], "labels": {"device": device}}
                                 for device, port in targets.items()]
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = tmp / "prometheus.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [binary, "--config.file=%s" % (tmp / "prometheus.yml"), "--storage.tsdb.path=%s" % (tmp / "tsdb"),
                 "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        poll("Prometheus ready", self._ready)

    def _ready(self) -> bool:
        assert self.proc.poll() is None, "prometheus exited:\n" + self.log.read_text()
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=5) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as reply:
            answer = json.load(reply)
        assert answer["status"] == "success", answer
        return list(answer["data"]["result"])

    def values(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        return {tuple(sorted((k, v) for k, v in r["metric"].items() if k not in ("job", "instance"))):
                float(r["value"][1]) for r in self.query(expr)}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture
def lab(ssh_world: SshWorld, second_server: SshServer, short_tmp: Path) -> Iterator[tuple[list[Robot],
                                                                                         PrometheusServer]]:
    robots = [start_robot("robot-a", "orin-nano", ssh_world.servers[0], short_tmp),
              start_robot("robot-b", "orin-nx-16gb", second_server, short_tmp)]
    tunnels: list[Tunnel] = []
    prometheus = None
    try:
        known_hosts = short_tmp / "known_hosts"
        ssh_config = short_tmp / "ssh_config"
        with known_hosts.open("w") as hosts, ssh_config.open("w") as config:
            for robot in robots:
                kind, blob = robot.server.host_key.with_suffix(".pub").read_text().split()[:2]
                hosts.write("[127.0.0.1]:%d %s %s\n" % (robot.server.port, kind, blob))
                config.write(f"Host {robot.name}\n  HostName 127.0.0.1\n  Port {robot.server.port}\n"
                             f"  User {ssh_world.env.local_user}\n  IdentityFile {ssh_world.client_key}\n"
                             f"  IdentitiesOnly yes\n  UserKnownHostsFile {known_hosts}\n"
                             "  StrictHostKeyChecking yes\n")
        for robot in robots:
            port = free_port()
            tunnel = Tunnel(tunnel_argv(ssh_config, robot.name, port, robot.metrics_socket), port)
            tunnels.append(tunnel)
            tunnel.start()
        prometheus = PrometheusServer(short_tmp, {r.name: t.port for r, t in zip(robots, tunnels, strict=True)})
        prometheus.wait_ready()
        yield robots, prometheus
    finally:
        if prometheus is not None:
            prometheus.stop()
        for tunnel in tunnels:
            tunnel.stop()
        for robot in robots:
            robot.daemon.stop()


def test_prometheus_scrapes_two_robots_through_ssh_tunnels(lab: tuple[list[Robot], PrometheusServer]) -> None:
    robots, prometheus = lab
    families = "edge_gpu_utilization_ratio|edge_cpu_frequency_hertz|edge_temperature_celsius"
    expected: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for robot in robots:
        specs, values = robot_sample(robot.daemon)
        series = plan(specs)
        expected[robot.name] = want = {
            tuple(sorted({**dict(s.labels), "__name__": s.family.name, "device": robot.name}.items())):
            values[name] * s.scale for name, s in series.items() if name in values and re.fullmatch(families,
                                                                                                  s.family.name)}
        assert {dict(key)["__name__"] for key in want} == set(families.split("|")), want
        selector = '{__name__=~"%s",device="%s"}' % (families, robot.name)
        count = len(want)
        poll("%s's series in Prometheus" % robot.name, lambda sel=selector, n=count: len(prometheus.values(sel)) >= n)
        got = prometheus.values(selector)
        assert got == pytest.approx(want), robot.name
    # The soak-loaded Orin NX's GPU at 99.5 % (the ratio), as its board tree says.
    assert prometheus.values('edge_gpu_utilization_ratio{device="robot-b"}') == {
        (("__name__", "edge_gpu_utilization_ratio"), ("device", "robot-b"), ("gpu", "0")): 0.995}

    # A robot heats up: the next scrapes through its tunnel carry the new reading; the other's stays.
    zone = next(path.parent for path in (robots[0].daemon.board / "sys/class/thermal").glob("thermal_zone*/type")
                if path.read_text().strip() == "tj-thermal")
    (zone / "temp").write_text("61250\n")
    hot = 'edge_temperature_celsius{device="robot-a",sensor="tj-thermal"}'
    poll("robot-a's new temperature", lambda: list(prometheus.values(hot).values()) == [61.25])
    key = (("__name__", "edge_temperature_celsius"), ("device", "robot-b"), ("sensor", "tj-thermal"))
    assert prometheus.values('edge_temperature_celsius{device="robot-b",sensor="tj-thermal"}') == {
        key: expected["robot-b"][key]}

    # Every query of the shipped Grafana dashboard answers data from these robots, latency included
    # once the robots' inference processes report it to their runtimes.
    for robot in robots:
        with LatencyReporter("detector", str(robot.daemon.socket.parent / LATENCY_SOCKET_NAME)) as reporter:
            for ms in (9.0, 10.0, 12.0):
                reporter.record(ms / 1000.0)
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$device", ".*").replace("$__rate_interval", "1m")
            result = poll("%r (panel %s)" % (expr, panel["title"]), lambda e=expr: prometheus.query(e))
            assert {r["metric"].get("device") for r in result} <= {"robot-a", "robot-b", None}, result


def test_edgectl_metrics_tunnel_serves_a_robots_metrics_here(ssh_world: SshWorld, short_tmp: Path) -> None:
    robot = start_robot("robot", "orin-nano", ssh_world.servers[0], short_tmp)
    environ = {"HOME": str(ssh_world.home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "XDG_CONFIG_HOME": str(short_tmp / "xdg-config"), "XDG_DATA_HOME": str(short_tmp / "xdg-data"),
               "XDG_RUNTIME_DIR": str(short_tmp / "run")}
    env = ConsoleEnv.from_os(environ)
    DeviceRegistry(env).add(ssh_world.entry("robot"))
    port = free_port()
    argv = [sys.executable, "-m", "console.cli.main", "-d", "robot", "metrics-tunnel", "--port", str(port),
            "--socket", str(robot.metrics_socket)]
    try:
        # The robot's host key is not confirmed yet: no tunnel, and the way to confirm it.
        refused = subprocess.run(argv, env=environ, capture_output=True, text=True, timeout=120, check=False)
        assert refused.returncode == ExitCode.UNREACHABLE, refused.stderr
        assert "Host key verification failed" in refused.stderr and "edgectl -d robot status" in refused.stderr
        env.known_hosts_path.parent.mkdir(parents=True, exist_ok=True)
        kind, blob = ssh_world.servers[0].host_key.with_suffix(".pub").read_text().split()[:2]
        env.known_hosts_path.write_text("[127.0.0.1]:%d %s %s\n" % (ssh_world.servers[0].port, kind, blob))

        proc = subprocess.Popen(argv, env=environ, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # said once ssh listens
            assert line == "robot's metrics: http://127.0.0.1:%d/metrics (Ctrl+C to stop)\n" % port, (
                line + proc.communicate(timeout=30)[1])
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as reply:
                body = reply.read().decode()
            assert check(body).value("edge_temperature_celsius", sensor="tj-thermal") == 47.5
            proc.send_signal(signal.SIGINT)  # Ctrl+C
            assert proc.wait(timeout=30) == ExitCode.OK
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        robot.daemon.stop()
