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
        # A file name or a user's string may hold a line break, which would start a line of
        # its own in a CI log (where a line such as `::error ...` is a command).
        text = printable(f"{self.span}: {self.severity}: {self.message}")
        if self.hint:
            text += f"\n  hint: {printable(self.hint)}"
        return text

    def format_github(self) -> str:
        body = self.message + (f" (hint: {self.hint})" if self.hint else "")
        return github_annotation(
            self.severity,
            {"file": self.span.path, "line": self.span.line, "col": self.span.column},
            body,
        )


# GitHub Actions workflow commands (`::error file=...,line=...::message`), escaped as GitHub's
# own toolkit does (actions/toolkit packages/core/src/command.ts, escapeData/escapeProperty):
# a raw newline in a file name or message would end the command and let the rest of the value
# be read as a command of its own (`::add-mask::`, a forged `::error`). `%` goes first, so the
# escapes added after it are not escaped again.


def escape_github_data(value: object) -> str:
    """A workflow command's message: `%`, CR and LF escaped."""
    return str(value).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_github_property(value: object) -> str:
    """A workflow command's property value (file=, title=, line=, col=): as data, and `:` and
    `,` too, which would otherwise end the value."""
    return escape_github_data(value).replace(":", "%3A").replace(",", "%2C")


def github_annotation(level: str, properties: dict[str, object], message: str) -> str:
    """One line: `::level key=value,key=value::message`, every value escaped."""
    listed = ",".join(f"{key}={escape_github_property(value)}" for key, value in properties.items())
    return f"::{level} {listed}::{escape_github_data(message)}"


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


def printable(text: str) -> str:
    """`text` with control characters (line breaks among them) written as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
