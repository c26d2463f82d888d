"""``edge-python``: stands in for ``python -m MODULE ...`` inside the frozen bundle.

The console starts the local device's runtime (bridge, daemon, demo model, job workers) as
``python -m device_runtime ...``; a bundle has no interpreter, so it ships this executable and
``device_runtime.process.python_command()`` points there. Only ``-m`` is accepted.
"""

import runpy
import sys


def main() -> int:
    if len(sys.argv) < 3 or sys.argv[1] != "-m":
        sys.stderr.write("usage: edge-python -m MODULE [ARGS...]\n")
        return 2
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
