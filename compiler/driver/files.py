"""Reading the project's source files: their bytes, their state (the digest that keys their
cache entries) and why one cannot be read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cascade.compiler.diagnostics import Diagnostic, Span
from cascade.compiler.driver.cache import digest

FileState = str | None  # a file's digest, a note saying why it cannot be read, None: no file


# No hand-written module comes near this; a larger one is a mistake (or /dev/zero).
MAX_SOURCE_BYTES = 16 * 1024 * 1024


def read_source_file(path: Path) -> bytes:
    """A source file's bytes; OSError for what is not a regular file of a sensible size (a
    FIFO would block, a link to /dev/zero never ends)."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise OSError(f"{path.name} is not a regular file")
    if info.st_size > MAX_SOURCE_BYTES:
        raise OSError(f"{path.name} is larger than {MAX_SOURCE_BYTES // 2**20} MiB")
    with open(path, "rb", buffering=0) as stream:  # unbuffered: one read of the whole file
        return stream.readall()


def as_text(data: bytes) -> str:
    """A file's bytes as text for its digest: every byte kept, whatever the encoding."""
    return data.decode("utf-8", "surrogateescape")


def unreadable(path: str, error: Exception) -> Diagnostic:
    if isinstance(error, UnicodeDecodeError):
        reason = error.reason
    elif isinstance(error, OSError) and error.strerror:
        reason = error.strerror.lower()
    else:
        reason = str(error)
    return Diagnostic(
        Span(path, 1, 1),
        f"cannot read this file as Python source: {reason}",
        "save it as UTF-8, Python's default source encoding (or declare its encoding in a "
        "coding comment)",
    )


def file_state(root: Path, path: str) -> tuple[FileState, bytes | Exception]:
    """The file's state: its digest (also the key of its parse facts), a note with the reason
    when it cannot be read, None when there is no such file; and its bytes, or the error."""
    try:
        data = read_source_file(root / path)
    except OSError as error:
        missing = isinstance(error, (FileNotFoundError, NotADirectoryError))
        return (None if missing else unreadable(path, error).message), error
    return digest(path, as_text(data)), data
