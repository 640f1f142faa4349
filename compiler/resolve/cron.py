"""Checks a 5-field cron expression the way Dagster reads it, with a message that says what
is wrong (Dagster's own check only says yes or no; a test holds the two in agreement)."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

# Each field: its name, lowest and highest value, and the names it accepts for values.
FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    ),
    ("day of week", 0, 7, {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}),
)
MACROS = {"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"}
TERM = re.compile(r"^(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/([0-9]+))?$")


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a valid cron schedule, or None when it is."""
    text = expression.strip().lower()
    if text in MACROS:
        return None
    parts = text.split()
    if len(parts) != 5:
        return f"a cron schedule has 5 fields (minute hour day month weekday), got {len(parts)}"
    for part, (name, low, high, names) in zip(parts, FIELDS, strict=True):
        for term in part.split(","):
            match = TERM.match(term)
            if not match:
                return f"{name} field {part!r} is not valid cron syntax"
            bounds, step = match.groups()
            if step is not None and int(step) == 0:
                return f"{name} field {part!r} has a step of 0"
            if bounds == "*":
                continue
            # A range may run backwards (`22-2`): croniter, and so Dagster, wraps it around.
            for bound in bounds.split("-"):
                if not bound.isdigit() and bound not in names:
                    known = f"; names are {', '.join(names)}" if names else ""
                    return f"{name} field {part!r}: unknown value {bound!r}{known}"
                value = names.get(bound, int(bound) if bound.isdigit() else None)
                if value is None or not low <= value <= high:
                    return f"{name} field {part!r}: {bound!r} is outside {low}-{high}"
    if not any(map(_day_matcher(expression), _calendar())):
        # Dagster refuses some such crons when definitions load, and fails every automation
        # evaluation on others (croniter finds no next tick).
        return "no day of the calendar matches its day, month and weekday fields: it never ticks"
    return None


# What a macro stands for (croniter's reading, and so Dagster's).
MACRO_FIELDS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
DAY_OF_MONTH, DAY_OF_WEEK = 2, 4
# croniter's ranges, by which `*/n` and `a/n` are counted (a weekday range ends at 6; 7 is
# another name of Sunday, 0).
RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
# The calendar of 2001-2028 repeats until 2100 (every 28 years, leap years included), so a
# rule that holds for every hour, day, week and month of it holds for all of them.
CALENDAR_START = dt.date(2001, 1, 1)
CALENDAR_DAYS = (dt.date(2029, 1, 1) - CALENDAR_START).days
GRANULARITIES = ("hourly", "daily", "weekly", "monthly")


@dataclass(frozen=True)
class Field:
    """One field of a cron expression as croniter expands it: its values, and whether it is a
    wildcard (which decides how the two day fields combine)."""

    values: frozenset[int]
    wildcard: bool


def expand(expression: str) -> tuple[Field, ...]:
    """The five fields of a valid cron expression (`cron_problem` is None), read as croniter,
    Dagster's cron library, reads them: ranges that run backwards wrap around, a range from a
    value to itself (`5-5`) is the whole cycle, weekday 7 is Sunday, and a day field that
    names every day is a wildcard only when the other day field holds a `*`."""
    text = expression.strip().lower()
    parts = MACRO_FIELDS.get(text, text).split()
    fields = []
    for index, part in enumerate(parts):
        low, high = RANGES[index]
        names = FIELDS[index][3]
        values: set[int] = set()
        wildcard = False
        for term in part.split(","):
            match = TERM.match(term)
            assert match is not None, expression  # cron_problem() accepted it
            bounds, step_text = match.groups()
            step = int(step_text or 1)
            if bounds == "*" and step_text is None:
                wildcard = True
                values.update(range(low, high + 1))
                continue
            if bounds == "*":
                first, last = low, high
            elif "-" in bounds:
                first, last = (_value(b, index, names) for b in bounds.split("-"))
            elif step_text is not None:
                first, last = _value(bounds, index, names), high
            else:
                values.add(_value(bounds, index, names))
                continue
            values.update(_range(first, last, step, low, high))
        other = parts[DAY_OF_WEEK if index == DAY_OF_MONTH else DAY_OF_MONTH]
        day_field = index in (DAY_OF_MONTH, DAY_OF_WEEK)
        if len(values) == high - low + 1 and (not day_field or "*" in other):
            wildcard = True
        fields.append(Field(frozenset(values), wildcard))
    return tuple(fields)


def _value(text: str, index: int, names: dict[str, int]) -> int:
    value = names[text] if text in names else int(text)
    return 0 if index == DAY_OF_WEEK and value == 7 else value


def _range(first: int, last: int, step: int, low: int, high: int) -> list[int]:
    """croniter's values of `first-last/step`."""
    if first < last:
        return list(range(first, last + 1, step))
    if first == last:
        return list(range(low, high + 1, step))  # the whole cycle
    values = list(range(first, high + 1, step))
    skip = 0
    if values and values[-1] - low + step > high - low + 1 and high - values[-1] < step:
        skip = step - (high - values[-1])
    return values + list(range(low + skip, last + 1, step))


@functools.cache
def partitions_ticked(expression: str) -> frozenset[str]:
    """The partition granularities (hourly, daily, weekly: Sunday to Saturday, monthly; all
    UTC, as Dagster's partitions and cron ticks are) in which a valid cron expression ticks at
    least once in every partition. Cascade's automation loads a partition at the ticks while it
    is in progress and once more at the first tick after it closed (runtime/automation.py):
    where a partition holds no tick, the partition before it is never loaded complete."""
    minute, hour, day, month, weekday = expand(expression)
    del minute  # every field has at least one value: an hour with a tick has a minute of it
    both = not (day.wildcard or weekday.wildcard)  # croniter: either day field may match
    every_day = (day.wildcard and weekday.wildcard) or (
        both and (len(day.values) == 31 or len(weekday.values) == 7)
    )
    if every_day and len(month.values) == 12:  # most crons: no calendar to walk
        return frozenset(GRANULARITIES[0 if len(hour.values) == 24 else 1 :])
    dates = _calendar()
    ticked = list(map(_day_matcher(expression), dates))
    covered = set()
    if _every(dates, ticked, lambda d: (d.year, d.month)):
        covered.add("monthly")
    # Whole weeks, Sunday to Saturday (a date whose ordinal is a multiple of 7 is a Sunday).
    first = (7 - CALENDAR_START.toordinal() % 7) % 7
    last = first + (CALENDAR_DAYS - first) // 7 * 7
    if _every(dates[first:last], ticked[first:last], lambda d: d.toordinal() // 7):
        covered.add("weekly")
    if all(ticked):
        covered.add("daily")
        if len(hour.values) == 24:
            covered.add("hourly")
    return frozenset(covered)


def _day_matcher(expression: str) -> Callable[[dt.date], bool]:
    """Whether a valid cron expression ticks on a date (at some hour and minute of it)."""
    _, _, day, month, weekday = expand(expression)
    both = not (day.wildcard or weekday.wildcard)  # croniter: either day field may match

    def ticks_on(date: dt.date) -> bool:
        on_day = day.wildcard or date.day in day.values
        on_weekday = weekday.wildcard or date.isoweekday() % 7 in weekday.values
        return date.month in month.values and (
            (on_day or on_weekday) if both else (on_day and on_weekday)
        )

    return ticks_on


@functools.cache
def _calendar() -> list[dt.date]:
    return [CALENDAR_START + dt.timedelta(days=n) for n in range(CALENDAR_DAYS)]


def _every(dates: list[dt.date], ticked: list[bool], window: Callable[[dt.date], object]) -> bool:
    """Whether every window of `dates` (grouped by `window`) holds a ticked date."""
    windows: dict[object, bool] = {}
    for date, tick in zip(dates, ticked, strict=True):
        key = window(date)
        windows[key] = windows.get(key, False) or tick
    return all(windows.values())
