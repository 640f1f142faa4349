"""Errors the runtime raises when a load cannot go ahead.

Each one is a `dagster.Failure` that bypasses the asset's retry policy: a source that returns
the wrong thing, data that does not fit the generated schema, or a table that differs from it
fails the same way on every attempt, so retrying would only delay the report.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg

# How many offending values a refusal shows per column, or per failed check.
SAMPLE_SIZE = 5


class CascadeError(dg.Failure):
    """A load that cannot succeed without a change to the code, the data or the table."""

    def __init__(self, message: str, metadata: Mapping[str, Any] | None = None) -> None:
        super().__init__(description=message, metadata=metadata, allow_retries=False)


class SourceError(CascadeError):
    """The ingestion function returned something that is not a usable dlt source."""


class BatchError(CascadeError):
    """The staged rows do not fit the generated schema (missing column, bad value, null key)."""


class ValidationFailed(CascadeError):
    """The Pandera model rejected rows of the batch."""


class TableMismatchError(CascadeError):
    """The live Iceberg table differs from the generated schema or partition spec."""


class BranchError(CascadeError):
    """The branch to write cannot be created."""


class ModelError(CascadeError):
    """The Pandera model cannot be built, or fails when run on the batch (not a failed check)."""


class CatalogConfigError(CascadeError):
    """pyiceberg's configuration of the catalog is incomplete or names what does not exist."""


class PartitionError(CascadeError):
    """The run names no partition to load (a backfill range whose start comes after its end)."""


class UpkeepRefused(CascadeError):
    """A table's upkeep cannot complete until the table changes: it lacks a column of its
    unique key (a load, or `cascade apply`, evolves it to the generated schema first)."""


class RunConfigError(CascadeError):
    """The run's configuration holds a value the load cannot use."""
