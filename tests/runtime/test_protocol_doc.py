"""docs/PROTOCOL.md is generated from the protocol's declarations and must match them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from device_runtime.protocol import METHODS

ROOT = Path(__file__).resolve().parents[2]


def test_the_protocol_document_is_up_to_date() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "installers/dev/protocol_doc.py"), "--check"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr


def test_the_protocol_document_names_every_method_with_its_records() -> None:
    text = (ROOT / "docs/PROTOCOL.md").read_text(encoding="utf-8")
    for method, (params, result) in METHODS.items():
        section = text.split("#### `%s`" % method, 1)
        assert len(section) == 2, method
        body = section[1].split("####", 1)[0]
        assert "params: `%s`" % params.__name__ in body and "result: `%s`" % result.__name__ in body
