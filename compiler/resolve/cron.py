"""Checks a 5-field cron expression the way Dagster reads it, with a message that says what
is wrong (Dagster's own check only says yes or no; a test holds the two in agreement)."""

from __future__ import annotations

import re

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
    return None
