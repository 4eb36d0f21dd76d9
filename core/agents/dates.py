"""Date arithmetic for the agent: pure, bounded, on the proleptic Gregorian calendar of `datetime.date`.

Language models count days badly (they see dates as tokens, not numbers) and have no clock: "today"
is whatever their training data implied. So this tool takes explicit dates only and has no "today":
the agent must be told the date, as a real one is in its system prompt.

Three questions, written as text:

    date("2024-02-28 + 2 days")                      -> "2024-03-01 (Friday)"        leap year
    date("days between 2024-01-01 and 2024-12-25")   -> "359 days"
    date("weekday of 2024-07-04")                    -> "2024-07-04 is a Thursday"

Amounts may be days, weeks, months or years. A month is not a fixed number of days, so adding
months keeps the day of the month and clamps it to the month's end: 2024-01-31 + 1 month is
2024-02-29, as most libraries do (and the answer says so). Dates are YYYY-MM-DD, years 1 to 9999.
"""
import calendar
import datetime as dt
import re

MAX_CHARS = 100
MAX_AMOUNT = 10_000_000  # days; 27,000 years: every result past year 9999 is refused anyway


class DateError(ValueError):
    """Malformed or impossible date question; `kind` as ToolError's ("input", "syntax", "refused", "too large")."""

    def __init__(self, message: str, kind: str = "refused") -> None:
        super().__init__(message)
        self.kind = kind


_DATE = r"(\d{4}-\d{1,2}-\d{1,2})"
_SHIFT = re.compile(r"^" + _DATE + r"\s*(?P<sign>[+-])\s*(?P<amount>\d{1,9})\s*(?P<unit>days?|weeks?|months?|"
                    r"years?)$", re.IGNORECASE)
_BETWEEN = re.compile(r"^(?:days?\s+)?(?:between|from)\s+" + _DATE + r"\s+(?:and|to|until)\s+" + _DATE + r"$",
                      re.IGNORECASE)
_DIFF = re.compile(r"^" + _DATE + r"\s*-\s*" + _DATE + r"$")
_WEEKDAY = re.compile(r"^(?:(?:what\s+)?(?:weekday|day of the week|day)\s+(?:of|is|was)\s+)?" + _DATE + r"$",
                      re.IGNORECASE)
_USAGE = ("write one of: 2024-02-28 + 2 days · 2024-01-31 - 3 months · days between 2024-01-01 and "
          "2024-12-25 · weekday of 2024-07-04")


def parse_date(text: str) -> dt.date:
    """'2024-02-29' -> date(2024, 2, 29); '2023-02-29' -> DateError (2023 is not a leap year)."""
    year, month, day = (int(p) for p in text.split("-"))
    if not 1 <= year <= 9999:
        raise DateError(f"{text}: years run from 1 to 9999")
    if not 1 <= month <= 12:
        raise DateError(f"{text}: there is no month {month}")
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        leap = " (not a leap year)" if month == 2 and day == 29 else ""
        raise DateError(f"{text}: {calendar.month_name[month]} {year} has {last} days{leap}")
    return dt.date(year, month, day)


def add_months(start: dt.date, months: int) -> tuple[dt.date, bool]:
    """Shift by whole months, clamping the day: (2024-01-31, 1) -> (2024-02-29, True); True when clamped."""
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise DateError("the result is outside years 1 to 9999", "too large")
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(start.day, last)), start.day > last


def shift(start: dt.date, amount: int, unit: str) -> tuple[dt.date, bool]:
    """start + amount units (amount may be negative): (2024-02-28, 2, "day") -> (2024-03-01, False)."""
    unit = unit.lower().rstrip("s")
    if unit in ("month", "year"):
        return add_months(start, amount * (12 if unit == "year" else 1))
    days = amount * (7 if unit == "week" else 1)
    if abs(days) > MAX_AMOUNT:
        raise DateError(f"{abs(amount):,} {unit}s is over the limit of {MAX_AMOUNT:,} days", "too large")
    try:
        return start + dt.timedelta(days=days), False
    except OverflowError:
        raise DateError("the result is outside years 1 to 9999", "too large") from None


def date_tool(text: str) -> str:
    """Answer one date question written as text (see the module docstring); raises DateError with usage."""
    if not isinstance(text, str):
        raise DateError(f"date takes text, got {type(text).__name__}", "input")
    text = " ".join(text.split()).rstrip("?. ")
    if not text:
        raise DateError(f"date needs a question: {_USAGE}", "input")
    if len(text) > MAX_CHARS:
        raise DateError(f"the question is {len(text):,} characters; the limit is {MAX_CHARS}", "input")
    if re.search(r"\b(today|now|tomorrow|yesterday)\b", text, re.IGNORECASE):
        raise DateError("the date tool has no clock (like a model, it does not know today's date): write the date "
                        "as YYYY-MM-DD")
    if m := _SHIFT.match(text):
        start = parse_date(m[1])
        amount = int(m["amount"]) * (-1 if m["sign"] == "-" else 1)
        end, clamped = shift(start, amount, m["unit"])
        note = f"; the day was clamped to the end of {calendar.month_name[end.month]}" if clamped else ""
        return f"{end.isoformat()} ({calendar.day_name[end.weekday()]}){note}"
    if m := _BETWEEN.match(text) or _DIFF.match(text):
        first, second = parse_date(m[1]), parse_date(m[2])
        days = (second - first).days if _BETWEEN.match(text) else (first - second).days
        return f"{days:,} day{'s' if abs(days) != 1 else ''}"
    if m := _WEEKDAY.match(text):
        day = parse_date(m[1])
        return f"{day.isoformat()} is a {calendar.day_name[day.weekday()]}"
    if re.search(r"\d{1,2}/\d{1,2}/\d{2,4}", text):
        raise DateError("write dates as YYYY-MM-DD: 03/04/2024 is March 4 in the US and 3 April elsewhere", "syntax")
    raise DateError(f"could not read {text[:60]!r}: {_USAGE}", "syntax")


if __name__ == "__main__":
    for example in ["2024-02-28 + 2 days", "2023-02-28 + 2 days", "2024-01-31 + 1 month", "2024-03-31 - 1 month",
                    "days between 2024-01-01 and 2024-12-25", "2024-12-25 - 2024-01-01", "weekday of 2024-07-04",
                    "1969-07-20", "2023-02-29 + 1 day", "9999-12-31 + 1 day", "today + 3 days", "03/04/2024"]:
        try:
            print(f"{example!r:42} -> {date_tool(example)}")
        except DateError as err:
            print(f"{example!r:42} -> error ({err.kind}): {err}")
