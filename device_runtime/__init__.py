"""edge-runtime: the device side of Edge Operator Console.

Runs on Python 3.8 (JetPack 5) through 3.12 and imports no Qt, no paramiko and nothing
from ``console``.
"""

__version__ = "0.1.0"
