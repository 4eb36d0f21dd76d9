"""Unit conversion for the agent: "5 km to mi" -> "5 km = 3.10686 mi". Pure, bounded, clear errors.

Toolformer (Schick et al. 2023, https://arxiv.org/abs/2302.04761) gave its model a calculator because
language models are unreliable at arithmetic; unit conversion is the same kind of help: a fixed table
is exact where a model's memory of "how many feet in a mile" is not.

Every unit is a factor to its kind's base unit (metre, kilogram, second, byte), so a conversion is
value × factor(from) / factor(to). Temperature is the exception: its scales differ by an offset too,
so it goes through kelvin: K = C + 273.15, K = (F − 32) × 5/9 + 273.15.

Data sizes follow the standards: kB, MB, GB are powers of 1000 (SI); KiB, MiB, GiB powers of 1024
(IEC); b or bit is a bit, B a byte (8 bits). Units are matched exactly first, then ignoring case
where that is unambiguous ("KM" is km; "mb" is MB since no megabit is listed; "b" stays a bit).

    convert("5 km to mi")      -> "5 km = 3.10686 mi"
    convert("100 C to F")      -> "100 °C = 212 °F"
    convert("5 km to kg")      -> UnitError("cannot convert a length (km) to a mass (kg)")
"""
import math
import re

MAX_CHARS = 100
MAX_MAGNITUDE = 1e100


class UnitError(ValueError):
    """Malformed or impossible conversion; `kind` as ToolError's ("input", "syntax", "refused", "too large")."""

    def __init__(self, message: str, kind: str = "refused") -> None:
        super().__init__(message)
        self.kind = kind


# kind -> {unit: factor to the base unit}; the first name of each row is how results show it
UNITS = {
    "length": {"m": 1.0, "km": 1e3, "cm": 1e-2, "mm": 1e-3, "um": 1e-6, "nm": 1e-9, "mi": 1609.344,
               "yd": 0.9144, "ft": 0.3048, "in": 0.0254, "nmi": 1852.0},
    "mass": {"kg": 1.0, "g": 1e-3, "mg": 1e-6, "t": 1e3, "lb": 0.45359237, "oz": 0.028349523125,
             "st": 6.35029318},
    "time": {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "min": 60.0, "h": 3600.0, "day": 86400.0,
             "week": 604800.0, "year": 365.25 * 86400},  # a Julian year: leap days averaged in
    "data size": {"B": 1.0, "b": 0.125, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15,
                  "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "kbit": 125.0, "Mbit": 125e3,
                  "Gbit": 125e6},
    "temperature": {"K": 1.0, "°C": 1.0, "°F": 5 / 9},  # factors of a temperature *difference*
}
ALIASES = {
    "meter": "m", "meters": "m", "metre": "m", "metres": "m", "kilometer": "km", "kilometers": "km",
    "kilometre": "km", "kilometres": "km", "centimeter": "cm", "centimeters": "cm", "millimeter": "mm",
    "millimeters": "mm", "µm": "um", "micrometer": "um", "mile": "mi", "miles": "mi", "yard": "yd", "yards": "yd",
    "foot": "ft", "feet": "ft", "inch": "in", "inches": "in", "kilogram": "kg", "kilograms": "kg", "gram": "g",
    "grams": "g", "milligram": "mg", "tonne": "t", "tonnes": "t", "pound": "lb", "pounds": "lb", "lbs": "lb",
    "ounce": "oz", "ounces": "oz", "stone": "st", "sec": "s", "second": "s", "seconds": "s",
    "millisecond": "ms", "milliseconds": "ms", "µs": "us", "mins": "min", "minute": "min", "minutes": "min",
    "hr": "h", "hour": "h", "hours": "h", "days": "day", "d": "day", "weeks": "week", "years": "year",
    "yr": "year", "byte": "B", "bytes": "B", "bit": "b", "bits": "b", "KB": "kB", "kilobyte": "kB",
    "megabyte": "MB", "gigabyte": "GB", "terabyte": "TB", "C": "°C", "celsius": "°C", "degC": "°C",
    "F": "°F", "fahrenheit": "°F", "degF": "°F", "kelvin": "K",
}
KIND_OF = {unit: kind for kind, table in UNITS.items() for unit in table}
_EXACT = {**{u: u for u in KIND_OF}, **ALIASES}
_folded: dict[str, set[str]] = {}
for _name, _unit in _EXACT.items():
    _folded.setdefault(_name.lower(), set()).add(_unit)
_CASELESS = {name: units.pop() for name, units in _folded.items() if len(units) == 1}
_A_KIND = {"length": "a length", "mass": "a mass", "time": "a time", "data size": "a data size",
           "temperature": "a temperature"}
_PATTERN = re.compile(r"^\s*(?P<value>[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][-+]?\d{1,3})?)\s*"
                      r"(?P<src>°?[^\W\d]+)\s+(?:to|in|into|as|->)\s+(?P<dst>°?[^\W\d]+)\s*\.?\s*$")


def unit(name: str) -> str:
    """The canonical unit for a name: unit("miles") -> "mi"; unit("KM") -> "km"; unit("furlong") -> UnitError."""
    name = name.strip()
    found = _EXACT.get(name) or _CASELESS.get(name.lower())
    if found is None:
        known = ", ".join(f"{kind}: {' '.join(table)}" for kind, table in UNITS.items())
        raise UnitError(f"unknown unit {name[:30]!r}; the units are ({known})")
    return found


def to_base(value: float, unit_name: str) -> float:
    """value in unit_name -> the kind's base unit (kelvin for temperatures): to_base(100, "°C") -> 373.15."""
    if unit_name == "°C":
        return value + 273.15
    if unit_name == "°F":
        return (value - 32) * 5 / 9 + 273.15
    return value * UNITS[KIND_OF[unit_name]][unit_name]


def from_base(value: float, unit_name: str) -> float:
    """The inverse of to_base: from_base(373.15, "°F") -> 212.0."""
    if unit_name == "°C":
        return value - 273.15
    if unit_name == "°F":
        return (value - 273.15) * 9 / 5 + 32
    return value / UNITS[KIND_OF[unit_name]][unit_name]


def convert_value(value: float, src: str, dst: str) -> float:
    """Convert a number between two canonical units of the same kind: convert_value(5, "km", "mi") -> 3.1068..."""
    if KIND_OF[src] != KIND_OF[dst]:
        raise UnitError(f"cannot convert {_A_KIND[KIND_OF[src]]} ({src}) to {_A_KIND[KIND_OF[dst]]} ({dst})")
    base = to_base(value, src)
    if KIND_OF[src] == "temperature" and base < 0:
        raise UnitError(f"{value:g} {src} is below absolute zero (0 K = -273.15 °C = -459.67 °F)")
    return from_base(base, dst)


def _shown(value: float) -> str:
    """Six significant digits, no float noise: 3.106855961 -> '3.10686'; 212.00000000000003 -> '212'."""
    return f"{value:.6g}"


def convert(text: str) -> str:
    """Read "<number> <unit> to <unit>" and return "<number> <unit> = <result> <unit>"."""
    if not isinstance(text, str):
        raise UnitError(f"convert takes text, got {type(text).__name__}", "input")
    if not text.strip():
        raise UnitError("convert needs a conversion, e.g. convert[5 km to mi]", "input")
    if len(text) > MAX_CHARS:
        raise UnitError(f"the conversion is {len(text):,} characters; the limit is {MAX_CHARS}", "input")
    match = _PATTERN.match(text)
    if not match:
        raise UnitError(f"could not read {text.strip()[:60]!r}: write <number> <unit> to <unit>, e.g. 5 km to mi "
                        "or 100 C to F", "syntax")
    value = float(match["value"].replace(",", ""))
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise UnitError(f"the number is over the magnitude limit of {MAX_MAGNITUDE:.0e}", "too large")
    src, dst = unit(match["src"]), unit(match["dst"])
    result = convert_value(value, src, dst)
    if not math.isfinite(result) or abs(result) > MAX_MAGNITUDE:
        raise UnitError(f"the result is over the magnitude limit of {MAX_MAGNITUDE:.0e}", "too large")
    return f"{_shown(value)} {src} = {_shown(result)} {dst}"


if __name__ == "__main__":
    for example in ["5 km to mi", "100 C to F", "98.6 F to C", "1 GiB to MB", "3 days in h", "26.2 miles to km",
                    "-300 C to K", "5 km to kg", "5 furlongs to m", "five km to mi"]:
        try:
            print(f"{example!r:22} -> {convert(example)}")
        except UnitError as err:
            print(f"{example!r:22} -> error ({err.kind}): {err}")
