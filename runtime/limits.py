"""`max_runtime_seconds`: stop a load that runs too long, before it writes anything.

Dagster's `dagster/max_runtime` is a run tag, not something an asset can set for itself, so the
runtime enforces the limit: a timer interrupts a stalled source or staging step (SIGALRM, in
the main thread where Dagster runs a step), and the limit is checked once more before the
commit. The commit itself is never interrupted: it either happens whole or not at all.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import dagster as dg


class LoadTimeout(dg.Failure):
    """The load ran past max_runtime_seconds; nothing was written. Retrying may help."""

    def __init__(self, seconds: int, step: str, partitions: int = 1) -> None:
        limit = (
            f"max_runtime_seconds={seconds}"
            if partitions == 1
            else f"its time limit of {seconds * partitions} s (max_runtime_seconds={seconds} "
            f"for each of its {partitions} partitions)"
        )
        super().__init__(
            description=f"The load exceeded {limit} during {step}; nothing was written.",
            metadata={"max_runtime_seconds": seconds, "partitions": partitions, "step": step},
        )


class Deadline:
    """The time limit of a load: `seconds` for each of its `partitions` (a single-run backfill
    of N partitions has N times the time of one), for the whole run."""

    def __init__(self, seconds: int | None, partitions: int = 1):
        self.per_partition = seconds
        self.partitions = partitions
        self.seconds = None if seconds is None else seconds * partitions
        self.started = time.monotonic()
        self.step = "the load"

    def timeout(self) -> LoadTimeout:
        assert self.per_partition is not None
        return LoadTimeout(self.per_partition, self.step, self.partitions)

    def check(self, step: str) -> None:
        """Raises LoadTimeout when the limit has passed; else records the step now running."""
        if self.seconds is not None and time.monotonic() - self.started > self.seconds:
            raise self.timeout()
        self.step = step

    @contextmanager
    def interrupting(self) -> Iterator[None]:
        """Within this block a stalled step is interrupted when the limit passes."""
        seconds = self.seconds
        can_interrupt = (
            hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        )
        if seconds is None or not can_interrupt:
            yield
            return

        def expire(signum: int, frame: FrameType | None) -> None:
            raise self.timeout()

        remaining = max(seconds - (time.monotonic() - self.started), 0.001)
        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, remaining)
        try:
            yield
        except LoadTimeout:
            raise
        except Exception as error:
            # dlt wraps what a source raises (PipelineStepFailed, ResourceExtractionError):
            # the timeout is the cause worth reporting.
            cause = error.__cause__ or error.__context__
            while cause is not None and not isinstance(cause, LoadTimeout):
                cause = cause.__cause__ or cause.__context__
            if cause is not None:
                raise cause from None
            raise
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
