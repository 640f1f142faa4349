"""How far a child process that the test may SIGKILL got: events it sets as it goes, shared
by the crash-safety tests of the merge and of the compaction."""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing.context import BaseContext
from multiprocessing.synchronize import Event


@dataclass(frozen=True)
class Progress:
    """`started`: about to call the operation; `committing`: inside the catalog's commit;
    `returned`: the operation returned. `operation` names it in `moment()`."""

    operation: str
    started: Event
    committing: Event
    returned: Event

    @classmethod
    def create(cls, operation: str, context: BaseContext) -> Progress:
        return cls(operation, context.Event(), context.Event(), context.Event())

    def all(self) -> tuple[Event, ...]:
        return (self.started, self.committing, self.returned)

    def moment(self) -> str:
        """How far the child had gone, from the events it set."""
        if self.returned.is_set():
            return f"after {self.operation} returned"
        if self.committing.is_set():
            return "in the catalog commit"
        return "before the catalog commit"
