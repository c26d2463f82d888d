"""Which sections and charts the Dashboard shows, from the metric table (no Qt).

The standard sections come first in a fixed order (GPU, CPU, Memory, temperatures, power,
inference latency), then any other group the device reports. Each standard section has slots
that an engineer expects to find; a slot no metric fills becomes a card that says the metric is
not available on this device, so a machine without a GPU shows that plainly instead of
silently dropping the section or drawing zeros.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from device_runtime.protocol import MetricSpec

LATENCY_GROUP = "Inference latency"
NOT_AVAILABLE = "not available on this device"
NO_LATENCY_SOURCE = ("No latency source is reporting yet: this chart fills once the latency probe "
                     "or the robot's own process reports inference latency.")


@dataclass(frozen=True)
class Slot:
    group: str
    title: str
    matches: Callable[[MetricSpec], bool]
    missing: str = ""  # what the placeholder says; default: "<title> is not available on this device."


SLOTS = (
    Slot("GPU", "GPU load", lambda m: m.group == "GPU" and m.unit == "%"),
    Slot("GPU", "GPU frequency", lambda m: m.group == "GPU" and m.unit == "MHz"),
    Slot("CPU", "CPU load", lambda m: m.group == "CPU" and m.chart == "CPU load"),
    Slot("CPU", "Load per core", lambda m: m.group == "CPU" and m.chart == "Load per core"),
    Slot("CPU", "CPU frequency", lambda m: m.group == "CPU" and m.unit == "MHz"),
    Slot("Memory", "Memory", lambda m: m.group == "Memory"),
    Slot("Temperature", "Temperatures", lambda m: m.unit == "°C"),
    Slot("Power", "Power rails", lambda m: m.unit in ("mW", "W")),
    Slot(LATENCY_GROUP, "Inference latency", lambda m: m.group == LATENCY_GROUP, NO_LATENCY_SOURCE),
)
STANDARD_GROUPS = ("GPU", "CPU", "Memory", "Temperature", "Power", LATENCY_GROUP)


@dataclass
class CardPlan:
    title: str
    metrics: list[MetricSpec] = field(default_factory=list)
    missing: str = ""  # set for a placeholder card (no metrics)


@dataclass
class SectionPlan:
    group: str
    cards: list[CardPlan] = field(default_factory=list)


def group_charts(metrics: list[MetricSpec]) -> dict[str, dict[str, list[MetricSpec]]]:
    """group -> chart title -> metrics, in the table's order."""
    groups: dict[str, dict[str, list[MetricSpec]]] = {}
    for spec in metrics:
        groups.setdefault(spec.group, {}).setdefault(spec.chart, []).append(spec)
    return groups


def plan_sections(metrics: list[MetricSpec]) -> list[SectionPlan]:
    groups = group_charts(metrics)
    order = [*STANDARD_GROUPS, *(g for g in groups if g not in STANDARD_GROUPS)]
    sections = []
    for group in order:
        section = SectionPlan(group)
        for title, specs in groups.get(group, {}).items():
            section.cards.append(CardPlan(title, specs))
        for slot in SLOTS:
            if slot.group == group and not any(slot.matches(m) for m in metrics):
                text = slot.missing or "%s: %s." % (slot.title, NOT_AVAILABLE)
                section.cards.append(CardPlan(slot.title, missing=text))
        if section.cards:
            sections.append(section)
    return sections
