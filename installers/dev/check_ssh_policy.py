"""CI check: the console never trusts host keys blindly, never forwards the agent, and pins paramiko.

Fails on any use of paramiko's auto-accepting or merely warning host key policies, on agent
forwarding requests, and on a paramiko requirement older than 3.4.0 (the release with the fix for
the Terrapin attack, CVE-2023-48795). Usage: check_ssh_policy.py [ROOT]; exit 1 lists each finding.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Spelled in pieces so this file does not match itself.
FORBIDDEN = {
    r"\bAuto" r"AddPolicy\b": "accepts any host key without asking",
    r"\bWarning" r"Policy\b": "accepts any host key after a log line nobody reads",
    r"\brequest_forward" r"_agent\b": "forwards the ssh-agent to the device",
    r"\bAgentRequest" r"Handler\b": "forwards the ssh-agent to the device",
}
SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "__pycache__", "node_modules", ".mypy_cache",
             ".ruff_cache", ".pytest_cache"}
MIN_PARAMIKO = (3, 4, 0)


def python_files(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in path.relative_to(root).parts[:-1]):
            continue
        if path.suffix in (".py", ".pyi") and path.is_file():
            found.append(path)
    return found


def policy_findings(root: Path) -> list[str]:
    patterns = [(re.compile(p), why) for p, why in FORBIDDEN.items()]
    out = []
    for path in python_files(root):
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            for pattern, why in patterns:
                match = pattern.search(line)
                if match:
                    out.append("%s:%d: %s %s" % (path.relative_to(root), number, match.group(0), why))
    return out


def pin_findings(root: Path) -> list[str]:
    pyproject = root / "pyproject.toml"
    if not pyproject.exists():
        return []
    pins = re.findall(r'"paramiko\s*([<>=!~]=?)\s*([0-9][0-9.]*)', pyproject.read_text(encoding="utf-8"))
    if not pins:
        return ["pyproject.toml: paramiko has no lower bound; require paramiko>=%s (Terrapin fix)"
                % ".".join(map(str, MIN_PARAMIKO))]
    out = []
    for op, version in pins:
        parts = (*(int(x) for x in version.split(".") if x), 0, 0, 0)[:3]
        if op not in (">=", "==", "~=") or parts < MIN_PARAMIKO:
            out.append("pyproject.toml: paramiko%s%s allows releases without the Terrapin fix; require >=%s"
                       % (op, version, ".".join(map(str, MIN_PARAMIKO))))
    return out


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parents[2])
    findings = policy_findings(root) + pin_findings(root)
    for finding in findings:
        print(finding)
    if findings:
        print("SSH policy check failed: verify host keys with the console's HostKeyStore, never forward the agent.")
        return 1
    print("SSH policy check passed (%d Python files)" % len(python_files(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
