"""All process I/O of the console on one injectable object: directories, clock, streams."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from console.transport.ssh_prompts import SshPrompts
from device_runtime.process import python_command


def _xdg(environ: Mapping[str, str], var: str, fallback: str) -> Path:
    value = environ.get(var)
    if value:
        return Path(value)
    return Path(environ.get("HOME", "/tmp")) / fallback


@dataclass
class ConsoleEnv:
    """Everything the console reads from its surroundings. Tests build one over temp dirs."""

    config_dir: Path
    data_dir: Path
    runtime_dir: Path
    python: str = field(default_factory=lambda: python_command()[0])
    environ: dict[str, str] = field(default_factory=dict)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    clock: Callable[[], float] = time.time
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    # Who answers SSH questions (host keys, passphrases): a dialog, a terminal, or a refusal.
    ssh_prompts: SshPrompts = field(default_factory=SshPrompts)

    @classmethod
    def from_os(cls, environ: Mapping[str, str] | None = None) -> ConsoleEnv:
        env = dict(os.environ if environ is None else environ)
        runtime = env.get("XDG_RUNTIME_DIR")
        if runtime and os.path.isdir(runtime):
            runtime_dir = Path(runtime)
        else:  # no XDG_RUNTIME_DIR (an SSH login without PAM): a fixed name in the shared /tmp
            runtime_dir = Path("/tmp") / ("edge-console-%d" % os.getuid())
            # Created private; one that another user made first is refused, with the reason, by
            # the bridge that checks the local daemon's socket and its directories before use.
            try:
                runtime_dir.mkdir(mode=0o700)
            except OSError:
                pass
        return cls(
            config_dir=_xdg(env, "XDG_CONFIG_HOME", ".config") / "edge-console",
            data_dir=_xdg(env, "XDG_DATA_HOME", ".local/share") / "edge-console",
            runtime_dir=runtime_dir,
            environ=env,
        )

    @property
    def settings_path(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def local_socket(self) -> Path:
        """The built-in local device's daemon socket (a per-user daemon)."""
        return self.runtime_dir / "edge-runtime" / "edge-runtime.sock"

    @property
    def home(self) -> Path:
        return Path(self.environ.get("HOME") or os.path.expanduser("~"))

    @property
    def local_user(self) -> str:
        import pwd

        return self.environ.get("USER") or self.environ.get("LOGNAME") or pwd.getpwuid(os.getuid()).pw_name

    @property
    def operator(self) -> str:
        """``user@laptop``: who the device's history records for actions from this console."""
        return "%s@%s" % (self.local_user, socket.gethostname())

    @property
    def ssh_config_path(self) -> Path:
        """The user's OpenSSH client config (read, never written)."""
        return self.home / ".ssh" / "config"

    @property
    def known_hosts_path(self) -> Path:
        """The console's own known_hosts: the only host key file it writes."""
        return self.config_dir / "known_hosts"

    @property
    def local_root(self) -> Path:
        """The built-in local device's store and state, under the user's data directory."""
        return self.data_dir / "local-device"
