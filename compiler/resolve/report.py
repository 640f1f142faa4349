"""Collects diagnostics for the resolve stage."""

from __future__ import annotations

from dataclasses import dataclass, field

from cascade.compiler.diagnostics import Diagnostic, Span


@dataclass
class Reporter:
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, span: Span, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(span, message, hint))

    def count(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity == "error")
