"""The device's store settings, ``<root>/config/store.json``: typed, with defaults.

Hooks are commands (argument lists, never a shell line) set by whoever installs the robot's
software on the device; they are read from this file and cannot be set over the protocol.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from device_runtime import config_file, fileio
from device_runtime.package_format.errors import Code, StoreError

REQUIRE_SIGNATURE = "require-signature"
ALLOW_UNSIGNED = "allow-unsigned"
POLICIES = (REQUIRE_SIGNATURE, ALLOW_UNSIGNED)
FORMAT_VERSION = 1  # of store.json (device_runtime/config_file.py: how settings files are versioned)


@dataclass
class StoreConfig:
    policy: str = REQUIRE_SIGNATURE
    keep: int = 3  # versions kept per model (active, previous and pinned ones are kept on top)
    restart_hook: List[str] = field(default_factory=list)  # e.g. ["systemctl", "restart", "robot-ai"]
    health_hook: List[str] = field(default_factory=list)  # exit status 0 within the grace period: healthy
    health_grace_s: float = 30.0
    hook_timeout_s: float = 120.0
    inhibit_path: str = ""  # empty: <root>/run/inhibit.lock
    inhibit_wait_s: float = 60.0
    max_package_bytes: int = 8 << 30  # an archive may expand to at most this much
    # Left free after an import or upload; None: scaled to the disk (see reserve_bytes).
    space_margin_bytes: Optional[int] = None
    incoming_max_age_s: float = 86400.0  # an upload untouched this long is abandoned and removed

    def check(self) -> StoreConfig:
        if self.policy not in POLICIES:
            raise StoreError(Code.BAD_REQUEST, "policy %r is not one of %s" % (self.policy, ", ".join(POLICIES)))
        if not 1 <= self.keep <= 1000:
            raise StoreError(Code.BAD_REQUEST, "keep must be between 1 and 1000 versions")
        for name in ("health_grace_s", "hook_timeout_s", "inhibit_wait_s"):
            if not 0 <= getattr(self, name) <= 3600:
                raise StoreError(Code.BAD_REQUEST, "%s must be between 0 and 3600 seconds" % name)
        if self.space_margin_bytes is not None and (
                isinstance(self.space_margin_bytes, bool) or not isinstance(self.space_margin_bytes, int)
                or self.space_margin_bytes < 0):
            raise StoreError(Code.BAD_REQUEST, "space_margin_bytes must be a whole number of bytes, 0 or more "
                                               "(or null: scaled to the disk)")
        if not 60 <= self.incoming_max_age_s <= 90 * 86400:
            raise StoreError(Code.BAD_REQUEST, "incoming_max_age_s must be between 60 seconds and 90 days")
        for hook in (self.restart_hook, self.health_hook):
            if not isinstance(hook, list) or not all(isinstance(a, str) for a in hook):
                raise StoreError(Code.BAD_REQUEST, "hooks are lists of strings (a command and its arguments)")
        return self


# The scaled reserve: this fraction of the disk, at least the floor and at most the ceiling, so
# a store on a small disk can still deploy and one on a large disk keeps a fixed margin.
RESERVE_FRACTION = 0.02
RESERVE_FLOOR = 1 << 20
RESERVE_CEILING = 64 << 20


def reserve_bytes(cfg: StoreConfig, path: str) -> int:
    """Bytes kept free on the file system holding ``path`` after an import or upload."""
    if cfg.space_margin_bytes is not None:
        return cfg.space_margin_bytes
    total = fileio.total_bytes(path)
    return int(min(RESERVE_CEILING, max(RESERVE_FLOOR, total * RESERVE_FRACTION)))


def config_path(root: str) -> str:
    return os.path.join(root, "config", "store.json")


def fix_words(path: str) -> str:
    """How to make an unusable store.json usable again, on the device (it cannot be set over the
    protocol: it holds the hooks)."""
    return ("correct what is named above in %s on the device, as root (python3 -m json.tool %s checks its JSON), "
            "or move it aside with sudo mv %s %s.bad to deploy with the default store settings and no restart or "
            "health hook" % (path, path, path, path))


def load_config(root: str, default_policy: str = REQUIRE_SIGNATURE) -> StoreConfig:
    """The store settings; StoreError (bad_request) naming the file and the fix when they cannot
    be used: a deploy without its restart hook is unsafe, so nothing falls back to defaults."""
    cfg, reason = _read(root, default_policy)
    if cfg is None:
        path = config_path(root)
        raise StoreError(Code.BAD_REQUEST, "%s. Fix it: %s" % (problem(path, reason).message, fix_words(path)))
    return cfg


def config_problem(root: str) -> Optional[config_file.ConfigProblem]:
    """Why store.json cannot be used, for the health ``settings`` check; None when it can."""
    cfg, reason = _read(root, REQUIRE_SIGNATURE)
    return problem(config_path(root), reason) if cfg is None else None


def problem(path: str, reason: str) -> config_file.ConfigProblem:
    return config_file.ConfigProblem(path, "store settings", reason, fix_words(path),
                                     blocking="deploys, activations and rollbacks are refused (the restart and "
                                              "health hooks it holds could not run)")


def _read(root: str, default_policy: str) -> Tuple[Optional[StoreConfig], str]:
    """The settings, or None and why they cannot be used."""
    try:
        data = config_file.read_object(config_path(root))
        data = None if data is None else config_file.settings_of(data, FORMAT_VERSION)
    except (OSError, ValueError) as exc:
        return None, config_file.reason_of(exc)
    if data is None:
        return StoreConfig(policy=default_policy), ""
    unknown = sorted(set(data) - set(StoreConfig.__dataclass_fields__))
    if unknown:
        return None, "unknown setting(s) %s" % ", ".join(unknown)
    merged: Dict[str, Any] = {"policy": default_policy}
    merged.update(data)
    try:
        return StoreConfig(**merged).check(), ""
    except TypeError as exc:
        return None, str(exc)
    except StoreError as exc:
        return None, exc.message


def policy_is_set(root: str) -> bool:
    """Whether store.json names a policy (else the daemon's default applies)."""
    try:
        with open(config_path(root), "rb") as handle:
            data: Any = json.loads(handle.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and "policy" in data


def save_config(root: str, config: StoreConfig) -> None:
    config.check()
    config_file.save(config_path(root), asdict(config), FORMAT_VERSION)


def inhibit_path(root: str, config: StoreConfig) -> str:
    return config.inhibit_path or os.path.join(root, "run", "inhibit.lock")


def optional_policy(value: Optional[str]) -> Optional[str]:
    if value is not None and value not in POLICIES:
        raise StoreError(Code.BAD_REQUEST, "policy %r is not one of %s" % (value, ", ".join(POLICIES)))
    return value
