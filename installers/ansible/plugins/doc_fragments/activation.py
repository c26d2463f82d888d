"""The options of every module that activates a version on a robot (edge_deploy, edge_rollback): the
reason kept in the device's history and how to treat the robot's swap inhibit lock."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  why:
    description: A reason, kept in the device's history.
    type: str
    default: ""
  force:
    description: Go ahead if the robot still holds the swap inhibit lock after the wait (recorded).
    type: bool
    default: false
  wait:
    description: Seconds to wait for the inhibit lock (default, the device's own setting).
    type: float
attributes:
  diff_mode:
    support: full
    description: The model's active version before and after.
"""
