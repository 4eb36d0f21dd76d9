"""Shareable page state: a declared table of URL parameters (after TensorFlow Playground's state.ts).

Each page declares its key widgets once (key, type, default, range or choices). The same table
seeds the widgets from the URL and writes them back, so a link reopens the page exactly as it
was. A bad or out-of-range value never fails: it is clamped or falls back to the default.
"""
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
        if self.choices and value not in self.choices:
            return self.default
        return value

    def dump(self, value: Any) -> str:
        """The URL string for a value: Param('t', 1.0).dump(0.7) -> '0.7'; long text is cut to max_len."""
        if isinstance(value, bool):
            return str(value).lower()
        return str(value)[: self.max_len]
