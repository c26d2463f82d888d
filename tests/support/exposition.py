"""Strict checks of a Prometheus text exposition: the reference parser (prometheus_client),
Prometheus' own linter (``promtool check metrics``) and the naming rules line by line."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
SAMPLE = re.compile(r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)\Z")
PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"(,|\Z)')
# Base units (https://prometheus.io/docs/practices/naming/#base-units) and the few unitless kinds.
UNIT_SUFFIXES = ("_seconds", "_bytes", "_celsius", "_watts", "_joules", "_hertz", "_ratio", "_bytes_per_second",
                 "_rpm", "_info", "_id", "_reasons", "_locked", "_alarm")
NOT_BASE_UNITS = re.compile(r"_(milli\w*|micro\w*|kilo\w*|mega\w*|percent\w*|mb|kb|mw|mhz|khz|ms|us|minutes|hours"
                            r"|fahrenheit|degrees)(_|\Z)")
KINDS = ("gauge", "counter", "summary")


@dataclass
class Exposition:
    """Families by name (as declared in TYPE) with their samples: (sample name, labels, value)."""

    types: dict[str, str] = field(default_factory=dict)
    samples: dict[str, list[tuple[str, dict[str, str], float]]] = field(default_factory=dict)

    def value(self, family: str, **labels: str) -> float:
        found = [v for _, have, v in self.samples.get(family, []) if have == labels]
        assert len(found) == 1, (family, labels, self.samples.get(family))
        return found[0]


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def check(text: str) -> Exposition:
    """Every rule the text must follow, or an AssertionError that names the line and the rule."""
    parsed = list(text_string_to_metric_families(text))  # raises on anything malformed
    assert parsed, "no metrics"
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install Debian's prometheus package (installers/dev/system-packages.sh)"
    lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60,
                          check=False)
    assert lint.returncode == 0 and not lint.stdout.strip() and not lint.stderr.strip(), lint.stdout + lint.stderr
    assert text.endswith("\n"), "the last line ends with a newline"
    assert "\n\n" not in text, "an empty line"

    out = Exposition()
    helps: set[str] = set()
    current = ""
    series: set[tuple[str, frozenset[tuple[str, str]]]] = set()
    for number, line in enumerate(text.splitlines(), 1):
        where = "line %d %r" % (number, line)
        if line.startswith("# HELP "):
            name, _, text_ = line[7:].partition(" ")
            assert name not in helps and name not in out.types, where + ": a family is declared once"
            assert text_.strip(), where + ": empty HELP"
            helps.add(name)
            current = name
            continue
        if line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert name == current and name not in out.types, where + ": TYPE follows its own HELP, once"
            assert kind in KINDS, where + ": unexpected type"
            assert NAME.match(name) and name.startswith("edge_"), where + ": name"
            assert (kind == "counter") == name.endswith("_total"), where + ": _total is for counters only"
            assert kind == "counter" or name.endswith(UNIT_SUFFIXES), where + ": no base-unit suffix"
            assert not NOT_BASE_UNITS.search(name), where + ": not a base unit"
            assert not name.endswith(("_count", "_sum", "_bucket")) or kind != "gauge", where + ": reserved suffix"
            out.types[name] = kind
            out.samples[name] = []
            continue
        assert not line.startswith("#"), where + ": stray comment"
        match = SAMPLE.match(line)
        assert match, where + ": not a sample line"
        name, raw, value = match.group("name"), match.group("labels") or "", float(match.group("value"))
        kind = out.types.get(current)
        allowed = {current} | ({current + "_sum", current + "_count"} if kind == "summary" else set())
        assert kind and name in allowed, where + ": sample outside its family's block"
        pairs = PAIR.findall(raw)
        assert "".join('%s="%s"%s' % pair for pair in pairs) == raw, where + ": label syntax"
        labels = {key: _unescape(val) for key, val, _ in pairs}
        assert len(labels) == len(pairs), where + ": repeated label"
        assert all(LABEL.match(key) and not key.startswith("__") for key in labels), where + ": label name"
        assert all(labels.values()), where + ": empty label value (leave the label out)"
        if kind == "summary":
            assert ("quantile" in labels) == (name == current), where + ": quantile only on the summary's samples"
        key = (name, frozenset(labels.items()))
        assert key not in series, where + ": duplicate series"
        series.add(key)
        assert not math.isnan(value), where + ": NaN"
        if current.endswith("_ratio"):
            assert 0.0 <= value <= 1.0, where + ": a ratio is 0-1"
        if current.endswith("_celsius"):
            assert -40.0 <= value <= 125.0, where + ": implausible temperature"
        if current.endswith("_info"):
            assert value == 1.0, where + ": an info metric is 1"
        out.samples[current].append((name, labels, value))
    assert set(out.types) == set(helps), "TYPE missing for " + str(set(helps) - set(out.types))
    assert all(out.samples.values()), "a family without samples"
    # The reference parser saw the same families (it drops a counter's _total from the family name).
    assert {f.name + ("_total" if f.type == "counter" else "") for f in parsed} == set(out.types)
    return out
