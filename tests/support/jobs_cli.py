"""Running ``edgectl`` in-process against a console environment, as the job command tests do."""

from __future__ import annotations

import io

from console.cli.main import main
from console.core.env import ConsoleEnv


def run(env: ConsoleEnv, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env.stdout, env.stderr = out, err
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()
