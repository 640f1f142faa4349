"""Stage 2: link ingestions to their models across modules, check every parameter, map types
and assign field ids. Produces the IR, or diagnostics that say what to fix."""

from cascade.compiler.resolve.ingestions import resolve_project

__all__ = ["resolve_project"]
