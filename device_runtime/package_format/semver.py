"""Semantic versions (semver.org 2.0.0): parsing and precedence, nothing more."""

from __future__ import annotations

import re
from functools import total_ordering
from typing import Any, Tuple, Union

from device_runtime.package_format.errors import Code, StoreError

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
MAX_LENGTH = 64


@total_ordering
class SemVer:
    def __init__(self, text: str) -> None:
        match = _SEMVER.match(text) if isinstance(text, str) and len(text) <= MAX_LENGTH else None
        if match is None:
            raise StoreError(
                Code.BAD_MANIFEST,
                "version %r is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.4.0 or 2.0.0-rc.1)" % (text,),
            )
        self.text = text
        self.core = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
        self.pre = tuple(match.group(4).split(".")) if match.group(4) else ()

    def _key(self) -> Tuple[Any, ...]:
        # A pre-release sorts before its release; numeric identifiers before alphanumeric ones.
        pre: Tuple[Tuple[int, Union[int, str]], ...] = tuple(
            (0, int(p)) if p.isdigit() else (1, p) for p in self.pre
        )
        return (self.core, 0 if self.pre else 1, pre)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SemVer) and self._key() == other._key()

    def __lt__(self, other: SemVer) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "SemVer(%r)" % self.text

    def __str__(self) -> str:
        return self.text


def is_semver(text: str) -> bool:
    try:
        SemVer(text)
    except StoreError:
        return False
    return True
