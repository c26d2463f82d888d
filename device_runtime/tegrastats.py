"""A pure parser of ``tegrastats`` lines, for every Jetson generation.

The format drifted with each board and JetPack: TX1/L4T 28 wrote ``cpu [5%,0%]@408`` and
``GR3D 3%@76``; Nano/TX2 (JetPack 4) ``CPU [12%@1479,off]`` and rails as ``POM_5V_IN 933/933``;
Xavier bare rail names (``GPU 463/463``); Orin (JetPack 5/6) ``VDD_IN 4000mW/4000mW`` and
lower-case temperatures; JetPack 7 (Orin, Thor) ``GR3D_FREQ 12%@[1300,1300]``, temperatures as
``cpu@52.9C/52.9C`` and rails as ``cur/avg/max``. Tokens this parser does not know are kept in
``unknown`` so that a new JetPack shows what it added instead of silently losing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

_TIMESTAMP = re.compile(r"^(\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2})\s+")
_MEM = re.compile(r"^(\d+)/(\d+)(kB|MB|GB)$")
_TEMP = re.compile(r"^([A-Za-z0-9_]+)@(-?\d+(?:\.\d+)?)C(?:/(-?\d+(?:\.\d+)?)C)?$")
_RAIL = re.compile(r"^(\d+(?:\.\d+)?)(mW)?/(\d+(?:\.\d+)?)(?:mW)?(?:/(\d+(?:\.\d+)?)(?:mW)?)?$")
_LOAD_FREQ = re.compile(r"^(?:(\d+(?:\.\d+)?)%)?(?:@(\[[^\]]*\]|\d+(?:\.\d+)?))?$")
_CORE = re.compile(r"^(\d+(?:\.\d+)?)%(?:@(\d+))?$")
# Engines and clocks that tegrastats prints as "NAME value" (value: "off", "716", "0%@140", "@1691").
_ENGINE = re.compile(r"^(?:EMC|GR3D2?|NVENC\d?|NVDEC\d?|NVJPG\d?|VIC|OFA|APE|PVA\d?|NVDLA\d?|MSENC|SE|CV\d?|"
                     r"NVCSI|ISP|VI|AXI|MC)(?:_FREQ|_LOAD|_UTIL)?$")


@dataclass
class CpuCore:
    index: int
    online: bool
    load: Optional[float] = None  # percent of the current clock
    freq_mhz: Optional[float] = None


@dataclass
class Engine:
    """One hardware unit's line: ``on`` False for "off"; load in percent; clocks in MHz (a list
    for per-GPC clocks on JetPack 7)."""

    on: bool = True
    load: Optional[float] = None
    freqs_mhz: List[float] = field(default_factory=list)

    @property
    def freq_mhz(self) -> Optional[float]:
        return max(self.freqs_mhz) if self.freqs_mhz else None


@dataclass
class Rail:
    current_mw: float
    average_mw: Optional[float] = None
    max_mw: Optional[float] = None  # JetPack 7 adds a running maximum


@dataclass
class TegrastatsSample:
    timestamp: Optional[str] = None
    ram_used_mb: Optional[float] = None
    ram_total_mb: Optional[float] = None
    swap_used_mb: Optional[float] = None
    swap_total_mb: Optional[float] = None
    swap_cached_mb: Optional[float] = None
    cpus: List[CpuCore] = field(default_factory=list)
    engines: Dict[str, Engine] = field(default_factory=dict)  # "EMC", "GR3D", "NVDEC", ...
    temps: Dict[str, float] = field(default_factory=dict)  # sensor name as printed -> degC
    rails: Dict[str, Rail] = field(default_factory=dict)  # rail name as printed -> mW
    unknown: List[str] = field(default_factory=list)

    @property
    def emc(self) -> Optional[Engine]:
        return self.engines.get("EMC")

    @property
    def gpu(self) -> Optional[Engine]:
        return self.engines.get("GR3D")


def _mb(value: str, unit: str) -> float:
    return float(value) * {"kB": 1.0 / 1024.0, "MB": 1.0, "GB": 1024.0}[unit]


def _mem_pair(token: str) -> Optional[Tuple[float, float]]:
    match = _MEM.match(token)
    if not match:
        return None
    return _mb(match.group(1), match.group(3)), _mb(match.group(2), match.group(3))


def _parse_cpus(body: str, shared_freq: Optional[str]) -> List[CpuCore]:
    cores = []
    for index, raw in enumerate(body.split(",")):
        item = raw.strip()
        if item == "off":
            cores.append(CpuCore(index, False))
            continue
        match = _CORE.match(item)
        if not match:
            cores.append(CpuCore(index, True))
            continue
        freq = match.group(2) or shared_freq
        cores.append(CpuCore(index, True, float(match.group(1)), float(freq) if freq else None))
    return cores


def _parse_engine(value: str) -> Optional[Engine]:
    if value == "off":
        return Engine(on=False)
    if value.isdigit():  # "NVDEC 716", "APE 150": a clock in MHz
        return Engine(freqs_mhz=[float(value)])
    match = _LOAD_FREQ.match(value)
    if not match or not (match.group(1) or match.group(2)):
        return None
    load = float(match.group(1)) if match.group(1) else None
    freqs: List[float] = []
    clock = match.group(2)
    if clock:
        parts = clock.strip("[]").split(",")
        freqs = [float(p) for p in (x.strip() for x in parts) if re.match(r"^\d+(?:\.\d+)?$", p)]
    return Engine(load=load, freqs_mhz=freqs)


def _engine_name(token: str) -> str:
    for suffix in ("_FREQ", "_LOAD", "_UTIL"):
        if token.endswith(suffix):
            return token[: -len(suffix)]
    return token


def parse_line(line: str) -> TegrastatsSample:
    """Parse one line. Never raises on odd input: what is not understood lands in ``unknown``."""
    sample = TegrastatsSample()
    text = line.strip()
    stamp = _TIMESTAMP.match(text)
    if stamp:
        sample.timestamp = stamp.group(1)
        text = text[stamp.end():]
    # Glue "(lfb 1x2MB)" / "(cached 0MB)" / "[..]" groups into single tokens before splitting.
    text = re.sub(r"(?<=\S)\(", " (", re.sub(r"\(\s*", "(", text))
    text = re.sub(r"\s+(?=[^\[]*\])", "", text)
    tokens = re.findall(r"\([^)]*\)|\S+", text)
    i = 0
    while i < len(tokens):
        i = _consume(tokens, i, sample)
    return sample


def _consume(tokens: List[str], i: int, sample: TegrastatsSample) -> int:
    word = tokens[i]
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    if word in ("RAM", "SWAP", "IRAM") and _mem_pair(nxt.split("(")[0]):
        used, total = _mem_pair(nxt.split("(")[0]) or (0.0, 0.0)
        step = 2
        cached = None
        extra = tokens[i + 2] if i + 2 < len(tokens) else ""
        if extra.startswith("("):
            step = 3
            found = re.search(r"cached\s*(\d+)(kB|MB|GB)", extra)
            cached = _mb(found.group(1), found.group(2)) if found else None
        if word == "RAM":
            sample.ram_used_mb, sample.ram_total_mb = used, total
        elif word == "SWAP":
            sample.swap_used_mb, sample.swap_total_mb, sample.swap_cached_mb = used, total, cached
        return i + step
    if word.upper() == "CPU" and nxt.startswith("["):
        body, _, rest = nxt[1:].partition("]")
        sample.cpus = _parse_cpus(body, rest[1:] if rest.startswith("@") else None)
        return i + 2
    if word == "MTS" and i + 4 < len(tokens) and tokens[i + 1] == "fg":
        return i + 5  # "MTS fg 0% bg 0%": Denver scheduler shares, not a metric we chart
    temp = _TEMP.match(word)
    if temp:
        sample.temps[temp.group(1)] = float(temp.group(2))
        return i + 1
    rail = _RAIL.match(nxt)
    if rail and re.match(r"^[A-Za-z][A-Za-z0-9_]*$", word):
        if word == "NC":  # an unconnected monitor channel, printed as "NC 0mW/0mW"
            return i + 2
        sample.rails[word] = Rail(
            float(rail.group(1)), float(rail.group(3)), float(rail.group(4)) if rail.group(4) else None
        )
        return i + 2
    if _ENGINE.match(word) and nxt:
        engine = _parse_engine(nxt)
        if engine is not None:
            sample.engines[_engine_name(word)] = engine
            return i + 2
    sample.unknown.append(word)
    return i + 1


# ---------------------------------------------------------------------------------------------
# ``edge-runtime parse-tegrastats``: what each line of a file says, or why a line is not usable.


@dataclass
class ParsedLine:
    number: int  # 1-based line number in the file
    sample: Optional[TegrastatsSample] = None
    error: Optional[str] = None


def parse_text(text: str) -> List[ParsedLine]:
    """Every non-blank line, parsed; a line with neither RAM nor CPU is an error that names the
    line and what was found, and the lines after it are still read."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        sample = parse_line(line)
        if sample.ram_total_mb is None and not sample.cpus:
            shown = line.strip() if len(line.strip()) <= 60 else line.strip()[:57] + "..."
            out.append(ParsedLine(number, error="not a tegrastats line (no RAM or CPU field): %r" % shown))
        else:
            out.append(ParsedLine(number, sample))
    return out


def sample_dict(sample: TegrastatsSample) -> Dict[str, Any]:
    """A JSON-ready view with units in the key names."""
    return {
        "timestamp": sample.timestamp,
        "ram_mb": _pair(sample.ram_used_mb, sample.ram_total_mb),
        "swap_mb": None if sample.swap_total_mb is None else dict(
            _pair(sample.swap_used_mb, sample.swap_total_mb) or {}, cached=sample.swap_cached_mb),
        "cpus": [{"core": c.index, "online": c.online, "load_pct": c.load, "freq_mhz": c.freq_mhz}
                 for c in sample.cpus],
        "engines": {name: {"on": e.on, "load_pct": e.load, "freq_mhz": e.freqs_mhz}
                    for name, e in sample.engines.items()},
        "temperatures_c": dict(sample.temps),
        "rails_mw": {name: {"current": r.current_mw, "average": r.average_mw, "max": r.max_mw}
                     for name, r in sample.rails.items()},
        "unknown": list(sample.unknown),
    }


def _pair(used: Optional[float], total: Optional[float]) -> Optional[Dict[str, Optional[float]]]:
    return None if total is None else {"used": used, "total": total}


def _num(value: Optional[float]) -> str:
    return "?" if value is None else ("%.0f" % value if value == int(value) else "%.1f" % value)


def _engine_text(engine: Engine) -> str:
    if not engine.on:
        return "off"
    load = "%s%%" % _num(engine.load) if engine.load is not None else ""
    freq = "@ %s MHz" % "/".join(_num(f) for f in engine.freqs_mhz) if engine.freqs_mhz else ""
    return " ".join(part for part in (load, freq) if part) or "on"


def format_sample(sample: TegrastatsSample) -> List[str]:
    """Human-readable lines for one sample: memory, CPUs, engines, temperatures, rails."""
    lines = []
    if sample.timestamp:
        lines.append("  time     %s" % sample.timestamp)
    if sample.ram_total_mb is not None:
        lines.append("  RAM      %s / %s MB" % (_num(sample.ram_used_mb), _num(sample.ram_total_mb)))
    if sample.swap_total_mb is not None:
        cached = " (cached %s MB)" % _num(sample.swap_cached_mb) if sample.swap_cached_mb is not None else ""
        lines.append("  swap     %s / %s MB%s" % (_num(sample.swap_used_mb), _num(sample.swap_total_mb), cached))
    for core in sample.cpus:
        state = "off" if not core.online else "%s%% @ %s MHz" % (_num(core.load), _num(core.freq_mhz))
        lines.append("  CPU %-4d %s" % (core.index, state))
    for name, engine in sample.engines.items():
        label = "GPU" if name == "GR3D" else name
        lines.append("  %-8s %s" % (label, _engine_text(engine)))
    if sample.temps:
        # Orin prints -256 °C for a sensor that is powered off.
        lines.append("  temps    " + ", ".join("%s %s" % (k, "off" if v <= -256 else "%s °C" % _num(v))
                                               for k, v in sample.temps.items()))
    for name, rail in sample.rails.items():
        extra = " (avg %s mW)" % _num(rail.average_mw) if rail.average_mw is not None else ""
        lines.append("  rail     %s %s mW%s" % (name, _num(rail.current_mw), extra))
    if sample.unknown:
        lines.append("  unknown  %s" % " ".join(sample.unknown))
    return lines
