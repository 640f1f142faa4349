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

RESULT_FILE = "result.pickle"  # small: read on every run
PARTS_FILE = "parts.pickle"  # parse facts and formatted files: read only when needed


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
        self.folder = folder
        self.fingerprint = compiler_fingerprint()
        self.result: Any = self.load(RESULT_FILE).get("result")
        self.stored: dict[str, dict[str, Any]] | None = None  # parts, loaded on first use
        self.used: dict[str, dict[str, Any]] = {"parse": {}, "format": {}}
        self.parts_saved = False

    def load(self, name: str) -> dict[str, Any]:
        path = self.folder / name if self.folder else None
        if path is None or not path.is_file():
            return {}
        try:
            stored = pickle.loads(path.read_bytes())
        except Exception:  # a damaged or foreign cache is just a miss
            return {}
        return stored if stored.get("fingerprint") == self.fingerprint else {}

    def part(self, kind: str) -> dict[str, Any]:
        if self.stored is None:
            loaded = self.load(PARTS_FILE)
            self.stored = {"parse": loaded.get("parse", {}), "format": loaded.get("format", {})}
        return self.stored[kind]

    def parsed(self, key: str) -> Any:
        return self.lookup("parse", key)

    def store_parsed(self, key: str, facts: Any) -> None:
        self.use("parse", key, facts)

    def formatted(self, key: str) -> str | None:
        return self.lookup("format", key)

    def store_formatted(self, key: str, text: str) -> None:
        self.use("format", key, text)

    def lookup(self, kind: str, key: str) -> Any:
        found = self.part(kind).get(key)
        if found is not None:
            self.use(kind, key, found)
        return found

    def use(self, kind: str, key: str, value: Any) -> None:
        self.used[kind][key] = value
        self.parts_saved = False

    def save(self) -> None:
        """Writes the result, and the parts this run used when it used any (so the cache never
        grows past one project's size, and a run that reused the result rewrites no parts)."""
        if self.folder is None:
            return
        self.write(RESULT_FILE, {"fingerprint": self.fingerprint, "result": self.result})
        if self.stored is not None and not self.parts_saved:
            self.write(PARTS_FILE, {"fingerprint": self.fingerprint, **self.used})
            self.parts_saved = True

    def write(self, name: str, data: dict[str, Any]) -> None:
        assert self.folder is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{name}-")
        with os.fdopen(handle, "wb") as stream:
            pickle.dump(data, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, self.folder / name)
