"""How far a child process that the test may SIGKILL got: flags it sets as it goes, shared by
the crash-safety tests of the merge and of the compaction.

The flags are lock-free shared bytes, not `multiprocessing.Event`s: an Event's set() takes a
lock, and a child killed while holding it would leave the test waiting on that lock for
ever."""

from __future__ import annotations

import time
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from typing import Any


class Flag:
    """A flag one process sets and another reads or waits for, that a SIGKILL cannot wedge."""

    def __init__(self, context: BaseContext) -> None:
        self._value: Any = context.RawValue("b", 0)

    def set(self) -> None:
        self._value.value = 1

    def clear(self) -> None:
        self._value.value = 0

    def is_set(self) -> bool:
        return bool(self._value.value)

    def wait(self, timeout: float) -> bool:
        """Whether the flag was set within `timeout` seconds (polled every 5 ms)."""
        deadline = time.monotonic() + timeout
        while not self.is_set():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True


@dataclass(frozen=True)
class Progress:
    """`started`: about to call the operation; `committing`: inside the catalog's commit;
    `returned`: the operation returned. `operation` names it in `moment()`."""

    operation: str
    started: Flag
    committing: Flag
    returned: Flag

    @classmethod
    def create(cls, operation: str, context: BaseContext) -> Progress:
        return cls(operation, Flag(context), Flag(context), Flag(context))

    def all(self) -> tuple[Flag, ...]:
        return (self.started, self.committing, self.returned)

    def moment(self) -> str:
        """How far the child had gone, from the flags it set."""
        if self.returned.is_set():
            return f"after {self.operation} returned"
        if self.committing.is_set():
            return "in the catalog commit"
        return "before the catalog commit"
