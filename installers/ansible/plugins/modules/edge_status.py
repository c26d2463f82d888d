"""Ansible module: a robot's runtime, hardware, models, health and alerts as facts, read through edgectl."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge_operator.console.plugins.module_utils.edgectl import COMMON_ARGS, Edgectl

DOCUMENTATION = r"""
module: edge_status
short_description: Gather a robot's runtime, hardware, models and health as facts
description:
  - Reads one device through C(edgectl status --json) (handshake, runtime version, hardware) and
    C(edgectl fleet status --json) (each model's active version, health, temperature, open alerts).
  - Sets C(ansible_facts.edge_device); changes nothing on the device.
version_added: "0.1.0"
author:
  - Edge Operator Console developers
extends_documentation_fragment:
  - edge_operator.console.device
options: {}
attributes:
  check_mode:
    support: full
    description: Reads only, so it runs the same in check mode.
"""

EXAMPLES = r"""
- name: Read each robot's state
  edge_operator.console.edge_status:
    device: "{{ inventory_hostname }}"

- name: Stop when a robot is not healthy
  ansible.builtin.assert:
    that: ansible_facts.edge_device.health == "healthy"
    fail_msg: "{{ inventory_hostname }} fails {{ ansible_facts.edge_device.failing_checks | join(', ') }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts about the device.
  returned: always
  type: dict
  contains:
    edge_device:
      description: The device as edgectl sees it.
      type: dict
      contains:
        name:
          description: The device's name in edgectl's registry.
          type: str
          sample: robot-1
        runtime_version:
          description: The edge-runtime version the device answers with.
          type: str
          sample: 0.1.0
        protocol:
          description: The protocol version of the handshake.
          type: int
          sample: 2
        capabilities:
          description: The handshake's hardware and software (board, JetPack, CUDA, TensorRT, GPUs, backends).
          type: dict
        tags:
          description: The device's tags in the registry.
          type: list
          elements: str
          sample: [lab-a, orin-nx]
        state:
          description: The console's connection state with the device.
          type: str
          sample: connected
        board:
          description: The board's model.
          type: str
          sample: NVIDIA Jetson Orin NX Engineering Reference Developer Kit
        jetpack:
          description: The JetPack release, null off a Jetson.
          type: str
          sample: "6.0"
        models:
          description: Each model's active version (null where none is active).
          type: dict
          sample: {detector: 1.1.0}
        health:
          description: The device's health verdict.
          type: str
          sample: healthy
        failing_checks:
          description: The health checks that fail.
          type: list
          elements: str
        hottest_c:
          description: The hottest temperature sensor's reading in degrees Celsius (null where none).
          type: float
          sample: 48.5
        hottest_sensor:
          description: The hottest temperature sensor's name (null where none).
          type: str
          sample: gpu-thermal
        open_alerts:
          description: How many alerts are open.
          type: int
          sample: 0
        alerts:
          description: The open alerts, each in the device's words.
          type: list
          elements: str
"""

# Fleet status fields copied into the facts as they are.
FLEET_FIELDS = ("tags", "state", "board", "jetpack", "models", "health", "failing_checks", "hottest_c",
                "hottest_sensor", "open_alerts", "alerts")


# The options, as DOCUMENTATION describes them (tests/ansible checks that the two agree).
ARGUMENT_SPEC: dict[str, Any] = dict(COMMON_ARGS)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    edgectl = Edgectl(module)
    # the handshake (hardware, runtime) and the fleet row (models, health, alerts), read at the same time
    status, fleet = edgectl.json_all((("status", "--json"), True),
                                     (("fleet", "status", "--devices", edgectl.device, "--json"), False))
    row = fleet["devices"][0]
    if row.get("status") != "ok":
        module.fail_json(msg="%s answered its handshake but not its status (%s): %s"
                         % (edgectl.device, row.get("status"), row.get("why")), row=row)
    facts = {"name": edgectl.device, "runtime_version": status["runtime_version"], "protocol": status["protocol"],
             "capabilities": status["capabilities"]}
    facts.update({key: row.get(key) for key in FLEET_FIELDS})
    module.exit_json(changed=False, ansible_facts={"edge_device": facts})


if __name__ == "__main__":
    main()
