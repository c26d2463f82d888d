"""Ansible module: return a model on a robot to an earlier version through edgectl, idempotently."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge_operator.console.plugins.module_utils.edgectl import (
    ACTIVATION_ARGS,
    COMMON_ARGS,
    Edgectl,
    activation_argv,
)

DOCUMENTATION = r"""
module: edge_rollback
short_description: Return a model on a robot to an earlier version
description:
  - Activates an earlier version of a model on one device with C(edgectl rollback --json), gated by the
    device's health checks as a deploy is.
  - Idempotent either way it is asked. With O(to), nothing changes where that version is already active.
    With O(from_version), the model is rolled back only while that version is active, so a second run
    (which finds the earlier version active) changes nothing.
  - In check mode it reads the device's versions and reports what would change.
version_added: "0.1.0"
author:
  - Edge Operator Console developers
extends_documentation_fragment:
  - edge_operator.console.device
  - edge_operator.console.activation
options:
  name:
    description: The model.
    type: str
    required: true
    aliases: [model]
  to:
    description:
      - The version to return to. Without it, the device's previous version (which O(from_version) then needs).
    type: str
    aliases: [version]
  from_version:
    description:
      - Roll back only while this version is active (the version being withdrawn); elsewhere nothing changes.
    type: str
attributes:
  check_mode:
    support: full
    description: Reads the device's versions; activates nothing.
"""

EXAMPLES = r"""
- name: Withdraw detector 1.1.0 wherever it is active (back to each robot's previous version)
  edge_operator.console.edge_rollback:
    device: "{{ inventory_hostname }}"
    name: detector
    from_version: 1.1.0
    why: false positives at dusk

- name: Make sure detector 1.0.0 is the active version
  edge_operator.console.edge_rollback:
    device: "{{ inventory_hostname }}"
    name: detector
    to: 1.0.0
"""

RETURN = r"""
name:
  description: The model.
  returned: always
  type: str
  sample: detector
previous:
  description: The model's active version before the task.
  returned: always
  type: str
  sample: 1.1.0
active:
  description: The model's active version after the task (in check mode, what it would be).
  returned: always
  type: str
  sample: 1.0.0
result:
  description: What the device did, in its own word (committed, unchanged); C(would-roll-back) in check mode.
  returned: always
  type: str
  sample: committed
message:
  description: The device's one-line account, or why nothing was done.
  returned: always
  type: str
  sample: detector 1.0.0 is active and committed
notes:
  description: The device's notes.
  returned: when edgectl ran the rollback
  type: list
  elements: str
"""


# The options, as DOCUMENTATION describes them (tests/ansible checks that the two agree).
ARGUMENT_SPEC: dict[str, Any] = dict(
    COMMON_ARGS,
    name={"type": "str", "required": True, "aliases": ["model"]},
    to={"type": "str", "aliases": ["version"]},
    from_version={"type": "str"},
    **ACTIVATION_ARGS,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_one_of=[("to", "from_version")],
        supports_check_mode=True,
    )
    params = module.params
    name, to, withdrawn = params["name"], params["to"], params["from_version"]
    edgectl = Edgectl(module)
    versions = edgectl.versions(name)
    active, previous = versions.get("active"), versions.get("previous")
    if withdrawn is not None and active != withdrawn:
        module.exit_json(changed=False, name=name, previous=active, active=active, result="unchanged",
                         message="%s is at %s on %s, not %s: nothing to roll back" % (
                             name, active or "no active version", edgectl.device, withdrawn))
    if to is not None and active == to:
        module.exit_json(changed=False, name=name, previous=active, active=active, result="unchanged",
                         message="%s %s is already active on %s" % (name, to, edgectl.device))
    target = to or previous
    if target is None:
        module.fail_json(msg="%s: %s has no previous version to roll back to (active: %s); name one with to. edgectl "
                             "--device %s versions %s lists what it holds" % (edgectl.device, name, active or "none",
                                                                             edgectl.device, name))
    stored = {v["version"] for v in versions.get("versions", [])}
    if target not in stored:
        module.fail_json(msg="%s: %s %s is not stored there (it holds %s); deploy it first, or name a version it "
                             "holds" % (edgectl.device, name, target, ", ".join(sorted(stored)) or "no version"))
    diff = {"before": {"active": active}, "after": {"active": target}}
    if module.check_mode:
        module.exit_json(changed=True, name=name, previous=active, active=target, result="would-roll-back", diff=diff,
                         message="%s would go back from %s to %s on %s" % (name, active, target, edgectl.device))
    argv = ["rollback", name, "--to", target, "--json"]
    argv += activation_argv(params)
    action = edgectl.action(*argv, name=name, previous=active)
    module.exit_json(changed=action.get("result") != "unchanged", name=name, previous=active,
                     active=action.get("version"), result=action.get("result"), message=action.get("message"),
                     notes=action.get("notes", []), diff=diff)


if __name__ == "__main__":
    main()
