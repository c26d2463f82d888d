"""Frozen entry point of the console bundle: the headless CLI."""

import sys

from console.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
