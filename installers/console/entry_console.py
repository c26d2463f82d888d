"""Frozen entry point of the console bundle: the GUI."""

import sys

from console.ui.app import main

if __name__ == "__main__":
    sys.exit(main())
