"""How edgectl's command modules plug in.

Each module under ``console/cli/`` named ``cmd_*.py`` has ``register(sub, commands)``: it adds
its subparsers to ``sub`` and maps each command name to ``handler(core, args, env) -> exit code``.
``main.COMMANDS`` names the module of each command, so only the running one is imported.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv

Handler = Callable[[ConsoleCore, argparse.Namespace, ConsoleEnv], int]
Commands = dict[str, Handler]
