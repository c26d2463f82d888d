"""Write docs/PROTOCOL.md from the protocol's own declarations (the records and the ``Method``
declarations with their flags in the device_runtime/protocol package), so the document cannot drift from the code.

    python installers/dev/protocol_doc.py            # rewrite docs/PROTOCOL.md
    python installers/dev/protocol_doc.py --check    # exit 1 when docs/PROTOCOL.md is out of date
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from device_runtime import protocol  # noqa: E402

TARGET = ROOT / "docs" / "PROTOCOL.md"


def _doc(cls: type) -> str:
    """The first paragraph of a record's own docstring, in Markdown ("" for a dataclass's generated one)."""
    text = inspect.getdoc(cls) or ""
    if text.startswith(cls.__name__ + "("):
        return ""
    text = " ".join(line.strip() for line in text.split("\n\n")[0].splitlines())
    return re.sub(r":(?:class|data|meth|func|mod):`~?([^`]+)`", r"`\1`", text).replace("``", "`")


def _fields(cls: Any) -> list[str]:
    rows = []
    for item in dataclasses.fields(cls):
        if item.name == "TYPE":
            continue
        if item.default is not dataclasses.MISSING:
            default = " = %r" % (item.default,)
        elif item.default_factory is not dataclasses.MISSING:
            default = " = %r" % (item.default_factory(),)
        else:
            default = ""
        key = cls.WIRE_KEYS.get(item.name)  # a JSON key other than the field's name
        renamed = "" if key is None else " (`%s` in Python)" % item.name
        rows.append("`%s: %s%s`%s" % (key or item.name, item.type, default, renamed))
    return rows


def _record(cls: Any) -> str:
    rows = _fields(cls)
    return "`%s`%s" % (cls.__name__, (": " + ", ".join(rows)) if rows else " (no fields)")


def render() -> str:
    out = [
        "# The console <-> runtime protocol",
        "",
        "Generated from `device_runtime/protocol/` by `installers/dev/protocol_doc.py`; do not edit by hand",
        "(`tests/runtime/test_protocol_doc.py` fails when this file is out of date).",
        "",
        "Protocol version %d (the oldest this side still speaks: %d). Frames are newline-delimited JSON"
        % (protocol.PROTOCOL_VERSION, protocol.MIN_PROTOCOL_VERSION),
        "objects, at most %d bytes each, with a `type`. The console sends `hello` first; the daemon"
        % protocol.MAX_FRAME_BYTES,
        "answers `welcome` with its versions and the device's capabilities. Then the console sends",
        "`request` frames (`id`, `method`, `params`); each gets a `response` (`id`, `result`) or an",
        "`error` (`id`, `code`, `message`). Subscribed topics arrive as `event` frames.",
        "",
        "Flags: **changes state**: the daemon keeps its reply for a retry of the same request id after a",
        "lost link (replayed); **audited**: written to the device's audit log with the caller's OS user;",
        "**admin**: needs the admin role.",
        "",
        "## Error codes",
        "",
    ]
    for name, value in vars(protocol.ErrorCode).items():
        if not name.startswith("_"):
            out.append("- `%s`" % value)
    out += ["", "## Messages", ""]
    for type_name, cls in sorted(protocol._MESSAGES.items()):
        out.append("- `%s`: %s" % (type_name, " ".join(filter(None, (_doc(cls), ", ".join(_fields(cls)))))))
    groups: dict[str, list[str]] = {}
    for name in protocol.DECLARED:
        groups.setdefault(name.split(".", 1)[0], []).append(name)
    constants = {value.name: name for name, value in vars(protocol).items() if isinstance(value, protocol.Method)}
    out += ["", "## Methods", "",
            "Each method is declared once in `device_runtime/protocol/` as a `Method[Params, Result]` constant",
            "(named below); the console calls it with `DeviceSession.call(CONSTANT, params)`.", ""]
    for group in sorted(groups):
        out += ["### %s" % group, ""]
        for name in sorted(groups[group]):
            method = protocol.DECLARED[name]
            params, result = method.params, method.result
            flags = [flag for flag, on in (("changes state", method.changes_state),
                                           ("audited", method.audited),
                                           ("admin", method.admin)) if on]
            out.append("#### `%s`%s" % (name, " (%s)" % ", ".join(flags) if flags else ""))
            out.append("")
            if _doc(params):
                out.append(_doc(params))
                out.append("")
            out.append("- declared as: `%s`" % constants[name])
            out.append("- params: " + _record(params))
            out.append("- result: " + _record(result))
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only check that docs/PROTOCOL.md is up to date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print("docs/PROTOCOL.md is out of date: run python installers/dev/protocol_doc.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
