"""The options every module of the collection takes: which device, and which edgectl."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  device:
    description:
      - The device's name in edgectl's registry (C(edgectl devices) lists them).
      - Usually the inventory host's name, set once for every module of a play with C(module_defaults)
        and the C(group/edge_operator.console.edge) group.
    type: str
    required: true
  edgectl:
    description:
      - Path of the edgectl to run.
      - By default the one on the controller's E(PATH), else the one beside the Python that runs the module
        (set C(ansible_python_interpreter) to the console's Python).
    type: path
notes:
  - The modules run on the controller, the computer that holds edgectl and its device registry
    (the local connection); edgectl reaches each robot itself, over SSH or a local socket.
  - A failure carries edgectl's own message, which says what happened and what to do.
"""
