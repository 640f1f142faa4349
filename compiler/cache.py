"""A content-hash cache that lets `cascade gen` and `cascade check` re-read only what changed.

Three levels, each keyed by content, never by timestamps:
- a whole compilation, reused when every file it read (and every file it looked for and did
  not find) and the previous output are unchanged;
- each module's parse facts, by the module's source text;
- each formatted file, by its rendered text (so ruff runs only on what rendering changed).
Every key includes a fingerprint of the compiler's own code and the ruff version, so a new
compiler never reuses an old result. The cache is an accelerator: compiling without it gives
the same output.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

CACHE_FILE = "compile.pickle"


def digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def compiler_fingerprint() -> str:
    """A digest of the compiler's source files and the formatter version."""
    from importlib.metadata import version

    root = Path(__file__).parent
    sources = sorted(root.rglob("*.py"))
    return digest(version("ruff"), *(p.read_text(encoding="utf-8") for p in sources))


class CompileCache:
    def __init__(self, folder: Path | None):
        self.path = folder / CACHE_FILE if folder else None
        self.fingerprint = compiler_fingerprint()
        stored: dict[str, Any] = {}
        if self.path and self.path.is_file():
            try:
                stored = pickle.loads(self.path.read_bytes())
            except Exception:  # a damaged or foreign cache is just a miss
                stored = {}
        if stored.get("fingerprint") != self.fingerprint:
            stored = {}
        self.stored_parse: dict[str, Any] = stored.get("parse", {})
        self.stored_format: dict[str, str] = stored.get("format", {})
        self.result: Any = stored.get("result")
        self.used_parse: dict[str, Any] = {}
        self.used_format: dict[str, str] = {}

    def parsed(self, key: str) -> Any:
        found = self.stored_parse.get(key)
        if found is not None:
            self.used_parse[key] = found
        return found

    def store_parsed(self, key: str, facts: Any) -> None:
        self.used_parse[key] = facts

    def formatted(self, key: str) -> str | None:
        found = self.stored_format.get(key)
        if found is not None:
            self.used_format[key] = found
        return found

    def store_formatted(self, key: str, text: str) -> None:
        self.used_format[key] = text

    def keep_everything(self) -> None:
        """The whole compilation was reused: keep every entry for the next change."""
        self.used_parse = dict(self.stored_parse)
        self.used_format = dict(self.stored_format)

    def save(self, result: Any) -> None:
        """Writes what this run used (so the cache never grows past one project's size)."""
        if self.path is None:
            return
        data = {
            "fingerprint": self.fingerprint,
            "parse": self.used_parse,
            "format": self.used_format,
            "result": result,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".compile-")
        with os.fdopen(handle, "wb") as stream:
            pickle.dump(data, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, self.path)
