"""Ansible module: deploy a model package or an ONNX model to a robot through edgectl, idempotently."""

from __future__ import annotations

import os
import re
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge_operator.console.plugins.module_utils.edgectl import (
    ACTIVATION_ARGS,
    COMMON_ARGS,
    Edgectl,
    activation_argv,
)

DOCUMENTATION = r"""
module: edge_deploy
short_description: Deploy a model package or an ONNX model to a robot
description:
  - Uploads, verifies and activates a model on one device with C(edgectl deploy --json). The device's own
    store gates the activation (load check, warm-up, health checks) and rolls a failing one back by itself.
  - Idempotent. Nothing is sent when that version of the model is already active (or, with O(import_only),
    already stored); the task then reports no change.
  - In check mode it reads the package and the device's versions and reports what would change.
version_added: "0.1.0"
author:
  - Edge Operator Console developers
extends_documentation_fragment:
  - edge_operator.console.device
  - edge_operator.console.activation
options:
  src:
    description:
      - A model package (C(.tar.gz), from C(edgectl package build)) or an ONNX model (C(.onnx)) on the controller.
      - A package names its model and version itself; an ONNX model is packaged on the way, as O(name) O(version).
    type: path
    required: true
    aliases: [package]
  name:
    description:
      - For an ONNX model, the model's name (default, as edgectl does, the file's name).
      - For a package, the name it must hold (the task fails when it holds another).
    type: str
  version:
    description:
      - For an ONNX model, the version to deploy it as. Required for an ONNX model, so that a second run
        finds it active instead of deploying the next patch version again.
      - For a package, the version it must hold (the task fails when it holds another).
    type: str
  import_only:
    description: Store the version without activating it.
    type: bool
    default: false
  allow_downgrade:
    description: Activate a version older than the active one.
    type: bool
    default: false
  key:
    description: For an ONNX model, sign the package with this key (a name from C(edgectl keys list)).
    type: str
  shapes:
    description: For an ONNX model, the warm-up's size of each dynamic input, as C(NAME:DxD).
    type: list
    elements: str
    default: []
  sample:
    description: For an ONNX model, a real input for the warm-up (an C(.npz) file), kept in the package.
    type: path
attributes:
  check_mode:
    support: full
    description: Reads the package and the device's versions; sends and activates nothing.
"""

EXAMPLES = r"""
- name: Deploy a package (its manifest names the model and the version)
  edge_operator.console.edge_deploy:
    device: "{{ inventory_hostname }}"
    src: packages/detector-1.1.0.tar.gz
    why: new NMS thresholds

- name: Deploy an ONNX model as version 2.0.0 of "segmenter"
  edge_operator.console.edge_deploy:
    device: "{{ inventory_hostname }}"
    src: models/segmenter.onnx
    name: segmenter
    version: 2.0.0
    shapes: ["images:1x3x640x640"]
"""

RETURN = r"""
name:
  description: The model.
  returned: always
  type: str
  sample: detector
version:
  description: The version deployed (or already active).
  returned: always
  type: str
  sample: 1.1.0
previous:
  description: The model's active version before the task (null where none was).
  returned: always
  type: str
  sample: 1.0.0
active:
  description: The model's active version after the task (in check mode, what it would be).
  returned: always
  type: str
  sample: 1.1.0
result:
  description: What the device did, in its own word (committed, imported, unchanged); C(would-deploy) in check mode.
  returned: always
  type: str
  sample: committed
message:
  description: The device's one-line account of the deploy.
  returned: always
  type: str
  sample: detector 1.1.0 is active and committed
notes:
  description: The device's notes (signature, load time, warm-up latency).
  returned: when edgectl ran the deploy
  type: list
  elements: str
steps_s:
  description: Seconds each step of the deploy took on the device.
  returned: when edgectl ran the deploy
  type: dict
  sample: {import: 0.36, load: 0.55, swap: 0.01, health: 0.01, commit: 0.01}
started:
  description: When the device began the deploy (seconds since the epoch, the device's clock).
  returned: when edgectl ran the deploy
  type: float
  sample: 1796646915.84
finished:
  description: When the device finished it (seconds since the epoch, the device's clock).
  returned: when edgectl ran the deploy
  type: float
  sample: 1796646916.82
"""


def default_name(model: str) -> str:
    """The model name edgectl gives an ONNX file when none is given (``edgectl deploy`` without ``--name``)."""
    stem = os.path.splitext(os.path.basename(model))[0].lower()
    stem = "".join(c if c.isalnum() or c in "._-" else "-" for c in stem).strip(".-_")
    return stem[:64] or "model"


def older(version: str, than: str | None) -> bool:
    """Whether ``version``'s MAJOR.MINOR.PATCH is below ``than``'s (pre-releases of one core are left to the device)."""
    found = [re.match(r"^v?(\d+)\.(\d+)\.(\d+)", text or "") for text in (version, than)]
    if not (found[0] and found[1]):
        return False
    return tuple(int(x) for x in found[0].groups()) < tuple(int(x) for x in found[1].groups())


def _what(module: AnsibleModule, edgectl: Edgectl, src: str) -> tuple[str, str]:
    """The model and version ``src`` deploys: a package's manifest, or the options for an ONNX model."""
    params = module.params
    if src.endswith(".onnx"):
        if not params["version"]:
            module.fail_json(msg="%s is an ONNX model: give its version (version: 1.2.0), so that a second run finds "
                                 "it active instead of deploying the next patch version again" % src)
        return params["name"] or default_name(src), params["version"]
    for option in ("key", "sample"):
        if params[option]:
            module.fail_json(msg="%s is a package, which carries its own %s: build it with edgectl package build ... "
                                 "--%s" % (src, option, option))
    if params["shapes"]:
        module.fail_json(msg="%s is a package, which carries its own warm-up shapes: build it with edgectl package "
                             "build ... --shape" % src)
    inspected: dict[str, Any] = edgectl.json("package", "inspect", src, "--json", device=False)
    manifest = inspected["manifest"]
    for option in ("name", "version"):
        if params[option] and params[option] != manifest[option]:
            module.fail_json(msg="%s holds %s %s, not the %s %s this task expects; point src at the right package "
                                 "or change the task's %s" % (src, manifest["name"], manifest["version"], option,
                                                              params[option], option))
    return manifest["name"], manifest["version"]


# The options, as DOCUMENTATION describes them (tests/ansible checks that the two agree).
ARGUMENT_SPEC: dict[str, Any] = dict(
    COMMON_ARGS,
    src={"type": "path", "required": True, "aliases": ["package"]},
    name={"type": "str"},
    version={"type": "str"},
    import_only={"type": "bool", "default": False},
    allow_downgrade={"type": "bool", "default": False},
    **ACTIVATION_ARGS,
    key={"type": "str", "no_log": False},
    shapes={"type": "list", "elements": "str", "default": []},
    sample={"type": "path"},
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    params = module.params
    src = params["src"]
    if not os.path.isfile(src):
        module.fail_json(msg="%s is not a file on this controller; the modules run where edgectl runs, so src is a "
                             "path there (a package from edgectl package build, or an .onnx model)" % src)
    edgectl = Edgectl(module)
    name, version = _what(module, edgectl, src)
    before = edgectl.versions(name)
    active = before.get("active")
    stored = {v["version"] for v in before.get("versions", [])}
    done = version in stored if params["import_only"] else active == version
    result: dict[str, Any] = {"name": name, "version": version, "previous": active, "active": active}
    if done:
        module.exit_json(changed=False, result="unchanged", **result,
                         message="%s %s is already %s on %s" % (name, version, "stored" if params["import_only"]
                                                                else "active", edgectl.device))
    after = active if params["import_only"] else version
    diff = {"before": {"active": active, "stored": sorted(stored)},
            "after": {"active": after, "stored": sorted(stored | {version})}}
    if module.check_mode:
        if not params["import_only"] and not params["allow_downgrade"] and older(version, active):
            # what the device would answer (it decides for real runs)
            module.fail_json(msg="%s: %s %s is older than the active %s: a downgrade needs explicit intent "
                                 "(allow_downgrade: true, or edge_rollback with to: %s)" % (
                                     edgectl.device, name, version, active, version), **result)
        module.exit_json(changed=True, result="would-deploy", diff=diff, **dict(result, active=after),
                         message="%s %s would be %s on %s (active now: %s)" % (
                             name, version, "stored" if params["import_only"] else "activated", edgectl.device,
                             active or "none"))
    argv = ["deploy", src, "--json"]
    if src.endswith(".onnx"):
        argv += ["--name", name, "--version", version]
        argv += ["--key", params["key"]] if params["key"] else []
        argv += ["--sample", params["sample"]] if params["sample"] else []
        for shape in params["shapes"]:
            argv += ["--shape", shape]
    for flag in ("import_only", "allow_downgrade"):
        if params[flag]:
            argv.append("--" + flag.replace("_", "-"))
    argv += activation_argv(params)
    action = edgectl.action(*argv, **result)
    module.exit_json(changed=action.get("result") != "unchanged", diff=diff, name=name, version=version,
                     previous=active, active=after, result=action.get("result"), message=action.get("message"),
                     notes=action.get("notes", []), steps_s=action.get("steps_s", {}),
                     started=action.get("started"), finished=action.get("finished"))


if __name__ == "__main__":
    main()
