"""Stage 2: link ingestions to their models across modules, check every parameter, map types
and assign field ids. Produces the IR, or diagnostics that say what to fix."""

from __future__ import annotations

from typing import Any

__all__ = ["duplicate_tables", "resolve_module", "resolve_project"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: the driver reads the field-id locks (resolve/lock.py) on every run,
    # and a warm `cascade check` never resolves anything.
    if name in __all__:
        from cascade.compiler.resolve import ingestions

        return getattr(ingestions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
