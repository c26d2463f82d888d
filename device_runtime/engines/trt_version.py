"""TensorRT version numbers as they appear in logs, bindings and manifests.

trtexec prints the version three ways: ``TensorRT version: 10.3.0`` (8.2+), a bare integer
``TensorRT version: 8003`` (8.0) and the status-line code ``[TensorRT v100300]`` (five or six
digits for 10+, four for 8.x: ``v8601`` = 8.6.1). All parse to one comparable value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Tuple

_DOTTED = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?")
_CODE = re.compile(r"^\s*v?(\d{4,6})\s*$")


@dataclass(frozen=True, order=True)
class TrtVersion:
    major: int
    minor: int
    patch: int = 0
    build: int = 0

    @classmethod
    def parse(cls, text: str) -> Optional[TrtVersion]:
        """``"10.3.0"``, ``"8.6.1.6"``, ``"v100300"``, ``"8003"`` -> TrtVersion; None if unreadable."""
        code = _CODE.match(text)
        if code:
            return cls.from_code(code.group(1))
        match = _DOTTED.match(text)
        if not match:
            return None
        parts = [int(part) if part else 0 for part in match.groups()]
        return cls(parts[0], parts[1], parts[2], parts[3])

    @classmethod
    def from_code(cls, digits: str) -> Optional[TrtVersion]:
        """The numeric code of ``&&&& ... [TensorRT v100300]``: MMmmpp for 10+, Mmpp for 8.x."""
        if len(digits) == 4:
            return cls(int(digits[0]), int(digits[1]), int(digits[2:]))
        if len(digits) in (5, 6):
            major_len = len(digits) - 4
            return cls(int(digits[:major_len]), int(digits[major_len : major_len + 2]), int(digits[-2:]))
        return None

    def at_least(self, major: int, minor: int = 0, patch: int = 0) -> bool:
        return (self.major, self.minor, self.patch) >= (major, minor, patch)

    @property
    def short(self) -> Tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __str__(self) -> str:
        return "%d.%d.%d" % (self.major, self.minor, self.patch)


def require_version(text: str) -> TrtVersion:
    version = TrtVersion.parse(text)
    if version is None:
        raise ValueError("not a TensorRT version: %r" % text)
    return version
