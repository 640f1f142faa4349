"""Problems found in the user's sources, reported as `path:line:col: severity: message`."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Span:
    """A place in a source file: path relative to the project, 1-based line and column."""

    path: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True, order=True)
class Diagnostic:
    span: Span
    message: str
    hint: str = ""
    severity: str = "error"

    def format_text(self) -> str:
        text = f"{self.span}: {self.severity}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def format_github(self) -> str:
        # GitHub Actions workflow command; newlines must be escaped as %0A.
        body = self.message + (f" (hint: {self.hint})" if self.hint else "")
        body = body.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return (
            f"::{self.severity} file={self.span.path},line={self.span.line},"
            f"col={self.span.column}::{body}"
        )


def did_you_mean(name: str, candidates: Iterable[str], always_list: bool = False) -> str:
    """A hint naming the closest candidate; it lists them all when none is close (or always,
    with always_list). Candidates keep their order: a model's columns read best as declared."""
    options = list(dict.fromkeys(candidates))
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    listing = "expected one of: " + ", ".join(options) if options else ""
    if close:
        return f"did you mean {close[0]!r}?" + (f" ({listing})" if always_list else "")
    return listing


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)
