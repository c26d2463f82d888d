"""Bad networks, made with the kernel's own tools: the device's sshd sits in a network namespace
reached over a veth pair, where packets are dropped at random (iptables statistic), the link goes
black for a minute (a DROP-all rule), or the bandwidth is capped (tc tbf); a delaying TCP proxy
adds latency with jitter. Real OpenSSH, real daemon, real transfers; nothing is mocked.

These tests need root for the namespace (CI runs as root) and are skipped elsewhere, saying why.
The proxy test needs nothing special. Select them with ``-m bad_network``.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from console.core.devices.session import DeviceSession, State, make_transport
from console.core.jobs.tracker import JobTracker, typed_result
from console.core.transfers.files import stage_file
from console.core.transfers.push import Pusher, PushResult
from console.core.transfers.push_progress import RECONNECTING, SENDING, PushProgress
from device_runtime.demo_model import write_demo_model
from device_runtime.protocol import BenchmarkResult, BenchmarkSpec, JobLog, JobLogQuery
from tests.support.daemons import stop_daemon
from tests.support.delay_proxy import DelayProxy
from tests.support.netns import NetNamespace, unavailable
from tests.support.ssh import SshServer, SshWorld
from tests.support.ssh_flows import Watcher

pytestmark = [pytest.mark.bad_network, pytest.mark.slow]

MB = 1 << 20
BLACKOUT_S = 60.0
RATE_HZ = 5.0


@pytest.fixture
def netns() -> Iterator[NetNamespace]:
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    with NetNamespace() as ns:
        yield ns


@pytest.fixture
def far_server(ssh_world: SshWorld, netns: NetNamespace, short_tmp: Path) -> Iterator[SshServer]:
    """The device's sshd inside the namespace; its runtime's socket is on the shared file system."""
    server = SshServer(short_tmp / "sshd-far", port=2222, address=netns.peer_ip, launcher=netns.exec_prefix)
    server.authorize(ssh_world.client_key.with_suffix(".pub"))
    server.start()
    ssh_world.trust(server)
    yield server
    stop_daemon(server.remote_socket)  # before the namespace, and every process in it, goes
    server.stop()


def random_file(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        left = size
        while left:
            block = os.urandom(min(left, 16 * MB))
            handle.write(block)
            left -= len(block)
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(MB), b""):
            digest.update(block)
    return digest.hexdigest()


def session_for(world: SshWorld, server: SshServer, name: str, **entry: object) -> DeviceSession:
    device = world.entry(name, server=server, **entry)
    return DeviceSession(device, make_transport(device, world.env), world.env.clock)


class PushRun:
    """A push on its own thread, keeping every progress report it made with its arrival time."""

    def __init__(self, session: DeviceSession, local: Path, on_report: Callable[[PushProgress], None]) -> None:
        self.reports: list[tuple[float, PushProgress]] = []
        self.result: PushResult | None = None
        self.error: BaseException | None = None
        self._on_report = on_report
        self.pusher = Pusher(session, local, self._listen)
        self.thread = threading.Thread(target=self._run, name="push", daemon=True)
        self.thread.start()

    def _listen(self, p: PushProgress) -> None:
        self.reports.append((time.monotonic(), p))
        self._on_report(p)

    def _run(self) -> None:
        try:
            self.result = self.pusher.run()
        except BaseException as exc:  # handed to the test thread
            self.error = exc

    def join(self, timeout: float) -> PushResult:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the push did not end within %.0f s: %s" % (timeout, self.reports[-3:])
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


@pytest.mark.timeout(330)
def test_push_telemetry_and_a_job_come_through_loss_and_a_one_minute_blackout(
        ssh_world: SshWorld, far_server: SshServer, netns: NetNamespace, short_tmp: Path) -> None:
    """5 % loss both ways for the whole test; a 256 MB push; half way through, a job starts and
    the link goes black for a minute. Everything must come through whole, once, in order."""
    size = 256 * MB
    big = random_file(short_tmp / "big.bin", size)
    model = Path(write_demo_model(str(short_tmp / "laptop" / "detector.onnx")))

    # The operator's view of the robot: live telemetry and a job, on a session that reconnects.
    watch = session_for(ssh_world, far_server, "robot")
    watch.enable_reconnect()  # the console's own backoff, as in the GUI
    watcher = Watcher(watch)
    tracker = JobTracker(watch)
    pushing = session_for(ssh_world, far_server, "robot-push")  # edgectl push's own connection
    try:
        watch.connect()
        on_device = stage_file(watch, model)
        watch.start_telemetry(RATE_HZ)
        tracker.start()
        watcher.wait("telemetry", lambda: len(watcher.samples) >= 3, 15)

        netns.lose(0.05)
        half = threading.Event()
        run = PushRun(pushing, big, lambda p: half.set() if p.sent >= size // 2 else None)
        assert half.wait(200), "the push did not get half way: %s" % run.reports[-3:]

        job = tracker.submit("benchmark", BenchmarkSpec(on_device, shapes={"image": [1, 3, 64, 64]}, warmup_s=0.2,
                                                        seconds=4.0, concurrency=[1] * 18, threads=1))
        watcher.wait("the job's first lines", lambda: len(tracker.log(job.id).lines) >= 2, 60)

        netns.blackout()
        black_at, black_wall = time.monotonic(), time.time()
        lines_before = len(tracker.log(job.id).lines)
        watcher.wait("the telemetry session noticing the dead link", lambda: watch.state is State.RECONNECTING, 15)
        threading.Event().wait(BLACKOUT_S - (time.monotonic() - black_at))  # the blackout itself
        netns.restore()
        back_at, back_wall = time.monotonic(), time.time()

        result = run.join(240)
        watcher.wait("telemetry after the blackout", lambda: any(at > back_at for at, _ in watcher.samples), 60)
        final = tracker.wait(job.id, timeout=120)
        on_the_device = watch.request("jobs.logs", JobLogQuery(job.id, 0, 100_000))
    finally:
        netns.restore()
        tracker.close()
        watch.close()
        pushing.close()

    push_lost = next(at for at, p in run.reports if p.state == RECONNECTING and at > black_at)
    watch_lost, _ = watcher.first(State.RECONNECTING, black_at)
    streaming_again = next(at for at, _ in watcher.samples if at > back_at)
    sending_again = next(at for at, p in run.reports if p.state == SENDING and at > back_at)
    print("\nbad network: 256 MB pushed in %.0f s over %d connections; dead link noticed after %.1f s (push) and "
          "%.1f s (telemetry); after the link came back, telemetry streamed again in %.1f s and the push sent "
          "again in %.1f s" % (result.seconds, result.attempts, push_lost - black_at, watch_lost - black_at,
                               streaming_again - back_at, sending_again - back_at))

    # The upload: whole, verified on the device, resumed rather than restarted.
    assert result.sha256 == sha256(big) == sha256(Path(result.path)) and result.size == size
    assert result.attempts >= 2, "the blackout must have cut the push"
    assert push_lost - black_at < 10.0, "the push must notice the dead link within 10 s"
    assert watch_lost - black_at < 10.0, "keepalives must notice the dead link within 10 s"
    resumed = [p.sent for at, p in run.reports if p.state == SENDING and at > back_at]
    assert resumed and resumed[0] >= size // 3, "the push must resume from what the device held, not from 0"

    # Telemetry: streaming again, the blackout's minute back-filled, nothing repeated or out of order.
    device_times = [t for _, t in watcher.samples]
    assert device_times == sorted(device_times) and len(set(device_times)) == len(device_times)
    filled = [t for t in device_times if black_wall + 1 < t < back_wall - 1]
    assert len(filled) >= 0.8 * RATE_HZ * (back_wall - black_wall - 2), "the gap was not back-filled"

    # The job ran through the blackout on the device; the console holds every log line once, in order.
    assert final.state == "succeeded"
    result_record = typed_result(final)
    assert isinstance(result_record, BenchmarkResult) and len(result_record.sweep) == 18
    held = tracker.log(job.id)
    assert isinstance(on_the_device, JobLog) and on_the_device.done
    assert held.done and held.base == 0 and held.lines == on_the_device.lines
    assert len(held.lines) > lines_before + 5, "lines written during the blackout must be caught up"
    assert tracker.problems == []


@pytest.mark.timeout(120)
def test_a_push_through_a_bandwidth_cap_reports_the_capped_rate(
        ssh_world: SshWorld, far_server: SshServer, netns: NetNamespace, short_tmp: Path) -> None:
    """tbf at 2 MB/s each way: the push completes on one connection (a saturated link is not
    mistaken for a dead one), progress comes at least 4 times a second, and the rate it reports
    once the buffers are full is the cap's."""
    cap = 2_000_000
    size = 16 * MB
    netns.limit_rate(cap)
    data = random_file(short_tmp / "capped.bin", size)
    session = session_for(ssh_world, far_server, "robot")
    reports: list[tuple[float, PushProgress]] = []
    try:
        result = Pusher(session, data, lambda p: reports.append((time.monotonic(), p))).run()
    finally:
        session.close()
    assert result.sha256 == sha256(data) == sha256(Path(result.path))
    assert result.attempts == 1
    overall = size / result.seconds
    assert 0.6 * cap < overall < 1.05 * cap, "%.2f MB/s through a %.2f MB/s cap" % (overall / 1e6, cap / 1e6)

    sending = [(at, p) for at, p in reports if p.state == SENDING]
    times = [at for at, _ in sending]
    per_second = [sum(1 for t in times if start <= t < start + 1.0) for start in times if start <= times[-1] - 1.0]
    assert times[-1] - times[0] > 4.0 and min(per_second) >= 4, "progress must come at least 4 times a second"
    steady = sorted(p.rate_bps for at, p in sending if at > times[0] + (times[-1] - times[0]) / 2)
    median = steady[len(steady) // 2]
    print("\ntbf %.1f MB/s: push %.2f MB/s overall, %.2f MB/s reported in the second half (median), "
          "%d progress reports in %.1f s" % (cap / 1e6, overall / 1e6, median / 1e6, len(sending),
                                             times[-1] - times[0]))
    assert 0.7 * cap < median < 1.2 * cap, "reported %.2f MB/s through a %.2f MB/s cap" % (median / 1e6, cap / 1e6)
    assert all(p.eta_s is not None for _, p in sending[len(sending) // 2:])


@pytest.mark.timeout(120)
def test_the_protocol_and_a_push_work_through_latency_with_jitter(ssh_world: SshWorld, short_tmp: Path) -> None:
    """A proxy adds 50-90 ms each way: the handshake, requests, telemetry and an upload all work,
    and a request's round trip shows the added latency and its jitter."""
    server = ssh_world.servers[0]
    latency, jitter = 0.05, 0.04
    proxy = DelayProxy(("127.0.0.1", server.port), latency, jitter)
    kind, blob = server.host_key.with_suffix(".pub").read_text().split()[:2]
    ssh_world.env.known_hosts_path.parent.mkdir(parents=True, exist_ok=True)
    ssh_world.env.known_hosts_path.write_text("[127.0.0.1]:%d %s %s\n" % (proxy.port, kind, blob))
    session = session_for(ssh_world, server, "far", port=proxy.port)
    watcher = Watcher(session)
    data = random_file(short_tmp / "model.bin", 16 * MB)
    try:
        session.connect()
        rtts = [session.ping() for _ in range(20)]
        session.start_telemetry(10.0)
        watcher.wait("telemetry through the proxy", lambda: len(watcher.samples) >= 5, 15)
        result = Pusher(session, data).run()
    finally:
        session.close()
        proxy.close()
    print("\ndelay proxy %.0f-%.0f ms each way: round trips %.0f-%.0f ms; 16 MB pushed in %.1f s"
          % (latency * 1e3, (latency + jitter) * 1e3, min(rtts) * 1e3, max(rtts) * 1e3, result.seconds))
    assert min(rtts) >= 2 * latency and max(rtts) < 2 * (latency + jitter) + 0.5  # + a loaded machine
    assert max(rtts) - min(rtts) > jitter / 4, "the jitter shows in the round trips"
    assert result.sha256 == sha256(data) == sha256(Path(result.path)) and result.attempts == 1
