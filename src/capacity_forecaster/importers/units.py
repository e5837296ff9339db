"""Units of imported metrics and capacities, and the factor that turns one into percent.

K, M, G, T are powers of 1000 (KB, MB/s, Mbit/s, MHz); KiB, MiB, GiB, TiB powers of 1024.
Bits are always spelled `bit` (Mbit/s), bytes `B` (MB/s), so unit names are matched without
regard to case and "mb/s" still means megabytes. Bare "kbps" is refused: exports use it for
both kilobits and kilobytes per second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from capacity_forecaster.importers.errors import ImportInputError

_DECIMAL = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
_BINARY = {"ki": 1024.0, "mi": 1024.0**2, "gi": 1024.0**3, "ti": 1024.0**4}


@dataclass(frozen=True)
class Unit:
    name: str  # as declared
    dimension: str  # percent | bytes | bytes_per_second | hertz | cores
    factor: float  # multiply a value by this to get the dimension's base unit

    @property
    def is_relative(self) -> bool:
        return self.dimension == "percent"


def _units() -> dict[str, tuple[str, float]]:
    table: dict[str, tuple[str, float]] = {
        "percent": ("percent", 1.0),
        "%": ("percent", 1.0),
        "fraction": ("percent", 100.0),
        "cores": ("cores", 1.0),
        "bytes": ("bytes", 1.0),
        "bytes/s": ("bytes_per_second", 1.0),
    }
    for prefix, factor in (_DECIMAL | _BINARY).items():
        table[f"{prefix}b"] = ("bytes", factor)
        table[f"{prefix}b/s"] = ("bytes_per_second", factor)
        table[f"{prefix}bit/s"] = ("bytes_per_second", factor / 8)
    for prefix, factor in _DECIMAL.items():
        table[f"{prefix}hz"] = ("hertz", factor)
    return table


UNITS = _units()
CONSTANT_RE = re.compile(r"^\s*((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z%/]+)\s*$")


def parse_unit(text: str) -> Unit:
    key = text.strip().lower()
    if key not in UNITS:
        known = "percent, fraction, cores, B, KB, MB, GB, KiB, MiB, GiB, KB/s, MB/s, Mbit/s, Gbit/s, MHz, GHz"
        raise ImportInputError(f"unknown unit {text!r}; use one of {known} (or auto)")
    dimension, factor = UNITS[key]
    return Unit(text.strip(), dimension, factor)


def parse_constant(text: str) -> tuple[float, Unit] | None:
    """`1Gbit/s`, `500 MB/s`, `2400MHz` -> (value, unit); None when `text` is not a constant."""
    match = CONSTANT_RE.match(text)
    if not match or match.group(2).lower() not in UNITS:
        return None
    return float(match.group(1)), parse_unit(match.group(2))


def percent_factor(unit: Unit, capacity_unit: Unit | None, metric: str) -> float:
    """Factor f such that value / capacity * f is percent (or value * f without a capacity)."""
    if capacity_unit is None:
        if not unit.is_relative:
            raise ImportInputError(
                f"metric {metric} is in {unit.name} (an absolute unit): give its capacity with "
                f"--capacity {metric}=COLUMN|inventory|CONSTANT (e.g. 1Gbit/s)"
            )
        return unit.factor
    if unit.is_relative:
        raise ImportInputError(
            f"metric {metric} has a capacity but its unit is {unit.name}: declare the unit of its "
            f"values with --unit {metric}=UNIT (e.g. MHz, KB, KB/s)"
        )
    if unit.dimension != capacity_unit.dimension:
        raise ImportInputError(
            f"metric {metric}: values in {unit.name} cannot be compared "
            f"with a capacity in {capacity_unit.name}"
        )
    return unit.factor / capacity_unit.factor * 100.0
