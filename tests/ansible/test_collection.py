"""The collection (installers/ansible) with real ansible-playbook runs against the simulated lab's robots.

Four robots of tests/support/netlab.py, ``robot-01`` .. ``robot-04``: each a real sshd in its own network
namespace with its own address, Unix user, daemon and store, the runtime put there by ``edgectl install``
from the wheelhouse. The lab is made once for this module; the controller registers the robots in its own
registry. Every store requires signed packages (the lab provisions them unsigned-friendly; the store
settings are set back to the default policy here); the lab key signs them and every robot trusts it.
``robot-03`` is the one made to fail its health gate. The playbooks are the collection's own examples, run
by their FQCN from the installed collection. Needs what the lab needs (root, ``ip``, ``iptables``, ``tc``,
``sshd``); the lab's tests are skipped elsewhere, saying why.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from console import __version__ as console_version
from console.core.models.packages import build_package
from device_runtime.store.config import StoreConfig, config_path, save_config
from tests.support.ansible_controller import COLLECTION, Controller, ansible_tool, install_collection
from tests.support.netlab import STORE, TAG, Lab, memory_tmp, prepare_wheelhouse, start_lab, unavailable
from tests.support.ssh import free_port
from tests.support.store import make_onnx

pytestmark = pytest.mark.timeout(600)

ROBOTS = ["robot-01", "robot-02", "robot-03", "robot-04"]
CANARY = "robot-01"  # alone in the first batch
SECOND = ["robot-02", "robot-03"]  # the second batch; robot-03 is made to fail its health gate
LAST = "robot-04"  # the last batch
STAGED = "edge_operator.console.staged_rollout"
ROLLBACK = "edge_operator.console.rollback"
MODULES = ["edge_status", "edge_deploy", "edge_rollback", "edge_install_runtime"]


@pytest.fixture(scope="module")
def collections(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_collection(tmp_path_factory.mktemp("galaxy"))


def _lab_or_skip() -> None:
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def robots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The lab's four robots with the runtime installed; each store requires signed packages. Only the
    rollout test deploys to them (its models stay); the install test borrows their installed runtime."""
    _lab_or_skip()
    wheelhouse = prepare_wheelhouse(tmp_path_factory.mktemp("ansible-wheelhouse"))
    with start_lab(len(ROBOTS), wheelhouse=wheelhouse, tmp=memory_tmp()) as lab:
        assert lab.names == ROBOTS
        for robot in lab.robots:  # the default policy (signatures required), the lab's health grace period
            save_config(str(robot.store_root), StoreConfig(health_grace_s=STORE.health_grace_s))
            os.chown(config_path(str(robot.store_root)), robot.uid, robot.home.stat().st_gid)  # the daemon edits it
        yield lab


@pytest.fixture
def lab(robots: Lab, short_tmp: Path, collections: Path) -> Controller:
    """The controller with the four robots registered, trusting the lab key, and two signed packages."""
    ctl = Controller(short_tmp / "ctl", Path(robots.env.environ["HOME"]), collections)
    for robot in robots.robots:
        ctl.register(robot, robots.client_key, robots.runtime, (TAG,))
    ctl.ok("keys", "new", "lab")
    public = ctl.ok("keys", "export", "lab").strip()
    for name in ROBOTS:
        ctl.ok("--device", name, "keys", "trust", public)
    for seed, version in enumerate(("1.0.0", "1.1.0")):
        model = make_onnx(short_tmp / ("m%d.onnx" % seed), seed)
        ctl.ok("package", "build", str(model), "-o", str(short_tmp / ("detector-%s.tar.gz" % version)), "--name",
               "detector", "--version", version, "--key", "lab")
    ctl.write_inventory(ROBOTS)
    return ctl


def _package(ctl: Controller, version: str) -> str:
    return str(ctl.work.parent / ("detector-%s.tar.gz" % version))


def test_staged_rollout_facts_idempotence_check_mode_max_fail_rollback_and_onnx(lab: Controller) -> None:
    # Every store requires signed packages: an unsigned one is refused before anything is activated.
    unsigned = lab.work / "detector-0.9.0.tar.gz"
    build_package(make_onnx(lab.work / "m9.onnx", 9), unsigned, "detector", "0.9.0", "tests")
    code, out, err = lab.edgectl("--device", CANARY, "deploy", str(unsigned))
    assert code != 0 and "the package is not signed and this device requires signed" in out + err, (out, err)

    # Check mode first: every robot would get 1.0.0, and none of them stores anything afterwards.
    run = lab.playbook(STAGED, "-e", "edge_package=%s" % _package(lab, "1.0.0"), "--check", "--diff")
    assert run.rc == 0, run.output
    would = run.results("Deploy the package (nothing is sent where its version is already active)")
    assert {h: (e.status, e.result["result"]) for h, e in would.items()} == dict.fromkeys(
        ROBOTS, ("changed", "would-deploy"))
    assert would[CANARY].result["message"] == "detector 1.0.0 would be activated on robot-01 (active now: none)"
    assert all(lab.stored("detector", d) == set() for d in ROBOTS)

    # The staged rollout: the canary alone, then half, then the rest.
    run = lab.playbook(STAGED, "-e", "edge_package=%s" % _package(lab, "1.0.0"), "-e", "edge_why=first rollout")
    assert run.rc == 0, run.output
    deploy = "Deploy the package (nothing is sent where its version is already active)"
    assert run.batches(deploy) == [[CANARY], SECOND, [LAST]]
    done = run.results(deploy)
    assert {h: (e.status, e.result["result"], e.result["active"]) for h, e in done.items()} == dict.fromkeys(
        ROBOTS, ("changed", "committed", "1.0.0"))
    # the canary had committed before the next batch began, on its own clock and theirs (one machine)
    assert done[CANARY].result["finished"] < min(done[h].result["started"] for h in ROBOTS[1:])
    assert max(done[h].result["finished"] for h in SECOND) < done[LAST].result["started"]
    assert run.changed() == dict.fromkeys(ROBOTS, 1)
    assert lab.active("detector", ROBOTS) == dict.fromkeys(ROBOTS, "1.0.0")

    # The same play again: nothing to do anywhere.
    run = lab.playbook(STAGED, "-e", "edge_package=%s" % _package(lab, "1.0.0"))
    assert run.rc == 0, run.output
    assert run.changed() == dict.fromkeys(ROBOTS, 0)
    assert {h: e.result["message"] for h, e in run.results(deploy).items()} == {
        h: "detector 1.0.0 is already active on %s" % h for h in ROBOTS}

    # The facts: every robot's runtime, hardware, models and health.
    run = lab.playbook("edge_operator.console.facts")
    assert run.rc == 0 and run.changed() == dict.fromkeys(ROBOTS, 0), run.output
    facts = {h: e.result["ansible_facts"]["edge_device"] for h, e in run.results("Read the robot's state").items()}
    assert set(facts) == set(ROBOTS)
    documented = yaml.safe_load(_docs(COLLECTION / "plugins" / "modules" / "edge_status.py")["RETURN"])
    assert set(facts[CANARY]) == set(documented["ansible_facts"]["contains"]["edge_device"]["contains"])
    for host, fact in facts.items():
        assert fact["name"] == host and fact["runtime_version"] == console_version and fact["tags"] == ["lab"]
        assert fact["models"] == {"detector": "1.0.0"} and fact["health"] == "healthy"
        assert fact["state"] == "connected" and fact["open_alerts"] == len(fact["alerts"])
        assert "onnxruntime" in fact["capabilities"]["backends"] and fact["capabilities"]["cpu_count"] >= 1
    summary = run.results("Summary")[CANARY].result["msg"]
    assert summary.startswith("runtime %s, healthy, models {" % console_version), summary

    # robot-03's health now names a robot application that does not exist: its own gate rolls 1.1.0 back,
    # the second batch has 1 of 2 failed (50 % > max_fail_percentage 25) and the play stops there.
    lab.ok("--device", "robot-03", "health-config", "--set", "restart_service=no-such-robot.service")
    run = lab.playbook(STAGED, "-e", "edge_package=%s" % _package(lab, "1.1.0"))
    assert run.rc != 0, run.output
    assert run.batches(deploy) == [[CANARY], SECOND]  # robot-04's batch never ran
    failed = run.results(deploy)["robot-03"]
    assert failed.status == "fatal"
    assert failed.result["msg"].startswith("robot-03: "), failed.result
    assert "the health check failed: Robot application running: no-such-robot.service" in failed.result["msg"]
    assert failed.result["msg"].endswith("Run edgectl --device robot-03 health: it shows each check and how to fix it.")
    assert run.failed() == {"robot-01": 0, "robot-02": 0, "robot-03": 1}
    assert lab.active("detector", ROBOTS) == {"robot-01": "1.1.0", "robot-02": "1.1.0", "robot-03": "1.0.0",
                                              "robot-04": "1.0.0"}
    assert lab.stored("detector", LAST) == {"1.0.0"}  # nothing was even sent to the batch that never ran

    # 1.0.0 again where 1.1.0 is active is a downgrade: refused, in check mode as for real, with what to do.
    for check in (("--check",), ()):
        run = lab.playbook(STAGED, "-e", "edge_package=%s" % _package(lab, "1.0.0"), "--limit", "robot-02", *check)
        assert run.rc != 0, run.output
        msg = run.results(deploy)["robot-02"].result["msg"]
        assert msg.startswith("robot-02: detector 1.0.0 is older than the active 1.1.0: a downgrade needs explicit "
                              "intent"), msg
        assert "allow_downgrade: true" in msg, msg
    assert lab.active("detector", ["robot-02"]) == {"robot-02": "1.1.0"}

    # Withdraw 1.1.0: check mode says where, the play does it, and again it has nothing to do.
    lab.ok("--device", "robot-03", "health-config", "--set", "restart_service=")
    withdraw = ("-e", "edge_model=detector", "-e", "edge_withdraw=1.1.0")
    run = lab.playbook(ROLLBACK, *withdraw, "--check")
    assert run.rc == 0, run.output
    assert run.changed() == {"robot-01": 1, "robot-02": 1, "robot-03": 0, "robot-04": 0}
    assert lab.active("detector", ROBOTS)[CANARY] == "1.1.0"
    run = lab.playbook(ROLLBACK, *withdraw)
    assert run.rc == 0, run.output
    rolled = run.results("Roll back where the withdrawn version is active")
    assert {h: e.result["result"] for h, e in rolled.items()} == {
        "robot-01": "committed", "robot-02": "committed", "robot-03": "unchanged", "robot-04": "unchanged"}
    assert rolled["robot-03"].result["message"] == "detector is at 1.0.0 on robot-03, not 1.1.0: nothing to roll back"
    assert lab.active("detector", ROBOTS) == dict.fromkeys(ROBOTS, "1.0.0")
    run = lab.playbook(ROLLBACK, *withdraw)
    assert run.rc == 0 and run.changed() == dict.fromkeys(ROBOTS, 0), run.output

    # An ONNX model: it needs a version; with one, a second run changes nothing.
    onnx = ("-e", "onnx=%s" % make_onnx(lab.work / "segmenter.onnx", 7), "--limit", "robot-02")
    for changed in (1, 0):
        run = lab.playbook(str(Path(__file__).with_name("onnx_deploy.yml")), *onnx)
        assert run.rc == 0 and run.changed() == {"robot-02": changed}, run.output
        refused = run.results("An ONNX model without a version")["robot-02"]
        assert refused.status == "fatal" and refused.result["msg"].endswith(
            "segmenter.onnx is an ONNX model: give its version (version: 1.2.0), so that a second run finds it "
            "active instead of deploying the next patch version again")
    assert lab.active("segmenter", ["robot-02"]) == {"robot-02": "2.0.0"}


def _tree(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``root`` with its mode, size and modification time."""
    return {str(path.relative_to(root)): (st.st_mode, st.st_size, st.st_mtime_ns)
            for path in sorted(root.rglob("*")) for st in (path.lstat(),)}


def test_install_runtime_check_mode_and_an_installed_runtime(robots: Lab, short_tmp: Path,
                                                             collections: Path) -> None:
    with start_lab(1, install=False, tmp=memory_tmp()) as empty:  # its own user and HOME, no runtime at all
        (robot,) = empty.robots
        ctl = Controller(short_tmp / "ctl", Path(empty.env.environ["HOME"]), collections)
        ctl.register(robot, empty.client_key)
        ctl.write_inventory([robot.name])
        prefix = robot.home / ".local" / "share" / "edge-runtime"  # a user install: the XDG data dir's edge-runtime
        install = ("edge_operator.console.install_runtime", "-e", "edge_user_install=true")
        before = _tree(robot.home)

        run = ctl.playbook(*install, "--check")
        assert run.rc == 0, run.output
        (event,) = run.results("Install or upgrade the runtime").values()
        assert event.status == "changed" and event.result["outcome"] == "would-install"
        assert event.result["prefix"] == str(prefix) and event.result["mode"] == "user"
        assert event.result["previous_version"] is None and event.result["runtime_version"] == console_version
        assert _tree(robot.home) == before and not (prefix / "bin").exists()  # the preflight only read

        # This console's runtime is in the prefix already (the one edgectl install put on the other lab's
        # robots, from this repository's wheel): no change, and the device entry now points at it; the
        # handshake goes through it.
        (prefix / "bin").mkdir()
        (prefix / "bin" / "edge-runtime").symlink_to(robots.runtime)
        for path in (prefix / "bin", prefix / "bin" / "edge-runtime"):
            os.lchown(path, robot.uid, robot.home.stat().st_gid)
        run = ctl.playbook(*install, "--check")
        assert run.rc == 0 and run.changed() == {robot.name: 0}, run.output
        run = ctl.playbook(*install)
        assert run.rc == 0 and run.changed() == {robot.name: 0}, run.output
        (event,) = run.results("Install or upgrade the runtime").values()
        assert event.result["outcome"] == "current" and event.result["runtime_version"] == console_version
        assert event.result["runtime_path"] == str(prefix / "bin" / "edge-runtime")
        status = json.loads(ctl.ok("--device", robot.name, "status", "--json"))
        assert status["runtime_version"] == console_version


def test_a_failure_carries_edgectl_s_own_message(short_tmp: Path, collections: Path) -> None:
    ctl = Controller(short_tmp / "ctl", short_tmp, collections)
    port = free_port()  # nothing listens there
    ctl.ok("devices", "add", "offline", "--host", "127.0.0.1", "--port", str(port), "--user", "robot")
    ctl.write_inventory(["ghost", "offline"])
    run = ctl.playbook("edge_operator.console.facts")
    assert run.rc == 2, run.output
    failed = run.results("Read the robot's state")
    assert {h: e.status for h, e in failed.items()} == {"ghost": "fatal", "offline": "fatal"}
    assert failed["ghost"].result["msg"].startswith("no device named 'ghost' (known: local, offline; an SSH config "
                                                    "alias or user@host[:port] works too)"), failed["ghost"].result
    assert failed["ghost"].result["rc"] == 5 and failed["ghost"].result["cmd"][-3:] == ["ghost", "status", "--json"]
    assert failed["offline"].result["msg"] == ("cannot reach offline: cannot reach 127.0.0.1:%d (Connection refused); "
                                               "is the device on and on the network?" % port)
    assert failed["offline"].result["rc"] == 3


def _docs(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text())
    return {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name) and isinstance(node.value, ast.Constant)}


def _docs_of_class(path: Path) -> str:
    (cls,) = [node for node in ast.parse(path.read_text()).body if isinstance(node, ast.ClassDef)]
    (doc,) = [node.value.value for node in cls.body if isinstance(node, ast.Assign)
              and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)]
    return doc


def test_module_docs_parse_and_ansible_doc_reads_them(collections: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(collections))  # the installed collection's modules, for their option specs
    for name in MODULES:
        docs = _docs(COLLECTION / "plugins" / "modules" / ("%s.py" % name))
        documentation = yaml.safe_load(docs["DOCUMENTATION"])
        assert documentation["module"] == name and documentation["short_description"]
        assert isinstance(yaml.safe_load(docs["EXAMPLES"]), list)
        assert all(v["description"] and v["returned"] for v in yaml.safe_load(docs["RETURN"]).values())
    fragment = _docs_of_class(COLLECTION / "plugins" / "doc_fragments" / "device.py")
    assert set(yaml.safe_load(fragment)["options"]) == {"device", "edgectl"}
    activation = yaml.safe_load(_docs_of_class(COLLECTION / "plugins" / "doc_fragments" / "activation.py"))
    assert set(activation["options"]) == {"why", "force", "wait"} and set(activation["attributes"]) == {"diff_mode"}
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ANSIBLE_COLLECTIONS_PATH": str(collections),
               "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp")}
    proc = subprocess.run([ansible_tool("ansible-doc"), "--json", *("edge_operator.console.%s" % m for m in MODULES)],
                          env=environ, capture_output=True, text=True, timeout=120, check=True)
    docs = json.loads(proc.stdout)
    for name in MODULES:
        options = docs["edge_operator.console.%s" % name]["doc"]["options"]
        assert options["device"]["required"] is True  # from the collection's doc fragment
        if name in ("edge_deploy", "edge_rollback"):  # the activation fragment's options and attribute
            assert options["force"]["default"] is False and "inhibit lock" in options["wait"]["description"]
            assert docs["edge_operator.console.%s" % name]["doc"]["attributes"]["diff_mode"]["support"] == "full"
        # the module takes exactly the options its documentation describes, with the same types and defaults
        spec = importlib.import_module("ansible_collections.edge_operator.console.plugins.modules.%s" % name)
        assert set(options) == set(spec.ARGUMENT_SPEC), name
        for option, doc in options.items():
            arg = spec.ARGUMENT_SPEC[option]
            for field in ("type", "required", "default", "elements"):
                assert doc.get(field) == arg.get(field) or (field == "required" and not doc.get(field) and
                                                            not arg.get(field)), (name, option, field)
            assert sorted(doc.get("aliases", [])) == sorted(arg.get("aliases", [])), (name, option)
    proc = subprocess.run([ansible_tool("ansible-inventory"), "-i", str(COLLECTION / "examples" / "inventory.yml"),
                           "--list"], env=environ, capture_output=True, text=True, timeout=120, check=True)
    inventory = json.loads(proc.stdout)
    assert inventory["canary"]["hosts"] == ["robot-1"]
    assert inventory["_meta"]["hostvars"]["dock-east"]["edgectl_device"] == "robot-dock-east"
