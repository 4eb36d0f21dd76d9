"""Shareable page state: a declared table of URL parameters (after TensorFlow Playground's state.ts).

Each page declares its key widgets once (key, type, default, range or choices). The same table
seeds the widgets from the URL and writes them back, so a link reopens the page exactly as it
was. A bad or out-of-range value never fails: it is clamped, snapped to the widget's step, or
falls back to the default, so a link can only reach the values a widget can (and each odd value is
not a fresh cache miss). Constraints between parameters (a chunk overlap below half the chunk size)
are rules applied after parsing: `apply_rules`.
"""
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Param:
    key: str
    default: Any
    lo: float | None = None  # numeric range (inclusive), for int and float params
    hi: float | None = None
    choices: tuple = ()  # allowed values, for str params
    max_len: int = 500  # longest accepted string, for free text
    step: float | None = None  # the widget's step: numbers are snapped to lo + k·step

    def parse(self, raw: str) -> Any:
        """Turn a URL string into a valid value: Param('k', 3, 1, 8).parse('99') -> 8; .parse('x') -> 3."""
        kind = type(self.default)
        try:
            if kind is bool:
                value = {"true": True, "1": True, "false": False, "0": False}[str(raw).strip().lower()]
            elif kind is int:
                value = int(float(raw))
            elif kind is float:
                value = float(raw)
                if value != value or value in (float("inf"), float("-inf")):
                    return self.default
            else:
                value = str(raw)[: self.max_len]
        except (KeyError, ValueError, TypeError, OverflowError):
            return self.default
        if kind in (int, float):
            if self.lo is not None:
                value = max(kind(self.lo), value)
            if self.hi is not None:
                value = min(kind(self.hi), value)
            value = self.snap(value)
        if self.choices and value not in self.choices:
            return self.default
        return value

    def snap(self, value):
        """The nearest value on the widget's grid: Param('v', 512, 256, 4096, step=256).snap(301) -> 256."""
        if self.step is None or isinstance(value, bool):
            return value
        base = self.lo if self.lo is not None else 0
        snapped = base + round((value - base) / self.step) * self.step
        if self.hi is not None and snapped > self.hi:
            snapped -= self.step
        return type(self.default)(round(snapped, 10))

    def dump(self, value: Any) -> str:
        """The URL string for a value: Param('t', 1.0).dump(0.7) -> '0.7'; long text is cut to max_len."""
        if isinstance(value, bool):
            return str(value).lower()
        return str(value)[: self.max_len]


Rule = Callable[[dict], dict]  # all values in, the corrected values out


def apply_rules(values: dict, rules: Iterable[Rule] = ()) -> dict:
    """Apply each cross-parameter rule in turn: apply_rules({'size': 100, 'overlap': 99}, [cap]) -> overlap 49."""
    values = dict(values)
    for rule in rules:
        values = rule(values)
    return values
