"""Ansible module: install (or upgrade) edge-runtime on a robot over SSH through edgectl, idempotently."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge_operator.console.plugins.module_utils.edgectl import COMMON_ARGS, Edgectl, last_json

DOCUMENTATION = r"""
module: edge_install_runtime
short_description: Install or upgrade edge-runtime on a robot over SSH
description:
  - Installs this console's edge-runtime on one SSH device with C(edgectl install --json). That is a read-only
    preflight, the wheelhouse for the robot's platform (cached on the controller), an upload, the device's
    C(install.sh), and a handshake through the installed runtime. A failed install leaves the previous
    runtime running.
  - Idempotent. Where the console's version is already installed the task reports no change. Where another
    version is installed it fails unless O(upgrade) is set.
  - In check mode only the read-only preflight runs, and the task reports what an install would do.
version_added: "0.1.0"
author:
  - Edge Operator Console developers
extends_documentation_fragment:
  - edge_operator.console.device
options:
  upgrade:
    description: Replace an installed runtime whose version differs from this console's.
    type: bool
    default: false
  user_install:
    description: Install for the login user (a user unit) even where sudo would allow a system install.
    type: bool
    default: false
  prefix:
    description: Where a user install goes (default, C(~/.local/share/edge-runtime) on the device).
    type: str
  python:
    description: The device's Python to build the runtime with (default, the device entry's, else C(python3)).
    type: str
  wheelhouse:
    description: Install from this wheelhouse on the controller (C(installers/device/wheelhouse.sh)) instead of
      the console's cache.
    type: path
attributes:
  check_mode:
    support: full
    description: Runs the read-only preflight and says whether it would install, upgrade or leave the runtime.
"""

EXAMPLES = r"""
- name: Install the console's runtime on every robot (a system install where sudo allows it)
  edge_operator.console.edge_install_runtime:
    device: "{{ inventory_hostname }}"

- name: Upgrade robots that run another version, into the login user's home
  edge_operator.console.edge_install_runtime:
    device: "{{ inventory_hostname }}"
    user_install: true
    upgrade: true
"""

RETURN = r"""
outcome:
  description: installed, upgraded or current; C(would-install) or C(would-upgrade) in check mode.
  returned: always
  type: str
  sample: installed
mode:
  description: system or user.
  returned: always
  type: str
  sample: user
prefix:
  description: Where the runtime is installed on the device.
  returned: always
  type: str
  sample: /home/robot/.local/share/edge-runtime
runtime_version:
  description: The version the device answers with after the task (in check mode, what it would).
  returned: always
  type: str
  sample: 0.1.0
previous_version:
  description: The version installed before (null where none was).
  returned: always
  type: str
  sample: 0.0.9
runtime_path:
  description: The runtime's path on the device.
  returned: unless in check mode
  type: str
  sample: /opt/edge-runtime/bin/edge-runtime
service:
  description: What became of the runtime's unit, in install.sh's words.
  returned: unless in check mode
  type: str
  sample: edge-runtime.service is running
warnings_from_preflight:
  description: The preflight's warnings (title and sentence), which do not stop an install.
  returned: always
  type: list
  elements: str
"""


# The options, as DOCUMENTATION describes them (tests/ansible checks that the two agree).
ARGUMENT_SPEC: dict[str, Any] = dict(
    COMMON_ARGS,
    upgrade={"type": "bool", "default": False},
    user_install={"type": "bool", "default": False},
    prefix={"type": "str"},
    python={"type": "str"},
    wheelhouse={"type": "path"},
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    params = module.params
    edgectl = Edgectl(module)
    options = ["--user-install"] if params["user_install"] else []
    options += ["--prefix", params["prefix"]] if params["prefix"] else []
    options += ["--python", params["python"]] if params["python"] else []
    wanted = edgectl.version()
    # preflight prints its verdict as JSON whether the device passes (0) or fails (9) it
    pre: dict[str, Any] = edgectl.json("preflight", *options, "--json", ok_codes=(0, 9))
    checks = pre.get("checks", [])
    warnings = ["%s: %s" % (c["title"], c["sentence"]) for c in checks if c.get("status") == "warn"]
    if not pre.get("ok"):
        failures = "; ".join("%s: %s" % (c["title"], c["sentence"]) for c in checks if c.get("status") == "fail")
        module.fail_json(msg="not installing on %s: %s" % (edgectl.device, failures), preflight=pre)
    target = pre["target"]
    installed = target.get("installed_version")
    if installed not in (None, wanted) and not params["upgrade"]:
        module.fail_json(msg="%s runs runtime %s and this console is %s; nothing was changed. Set upgrade: true to "
                             "install %s" % (edgectl.device, installed, wanted, wanted),
                         previous_version=installed, prefix=target["prefix"], mode=target["mode"])
    found = {"mode": target["mode"], "prefix": target["prefix"], "previous_version": installed,
             "warnings_from_preflight": warnings}
    if module.check_mode:
        outcome = "current" if installed == wanted else "would-upgrade" if installed else "would-install"
        module.exit_json(changed=outcome != "current", outcome=outcome, runtime_version=wanted, **found)
    argv = ["install", *options, "--json"]
    if installed not in (None, wanted):
        argv.append("--upgrade")  # only to replace another version: an upgrade of the same one would reinstall it
    if params["wheelhouse"]:
        argv += ["--wheelhouse", params["wheelhouse"]]
    rc, out, err = edgectl.run(*argv)
    try:
        last: dict[str, Any] = last_json(out)
    except ValueError:
        last = {}
    if rc != 0 or "result" not in last:
        edgectl.fail(rc, out, err, stage=last.get("stage"), **found)
    result = last["result"]
    module.exit_json(changed=result["outcome"] != "current", **dict(result, warnings_from_preflight=warnings))


if __name__ == "__main__":
    main()
