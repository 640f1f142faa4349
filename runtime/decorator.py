"""The `@cascade_ingestion` marker that user code imports.

All wiring lives in generated code, which the compiler writes by reading the decorator's
arguments from the source text. At run time the decorator therefore only records them on the
function: it registers nothing and does no work at import.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

MARKER = "__cascade_ingestion__"
# When the generated upkeep job of a table runs unless `maintenance=` says otherwise: daily at
# 03:30 UTC, off the hour that hourly loads tick on (compiler/resolve/parameters.py holds the
# same default; a test keeps them equal).
DEFAULT_MAINTENANCE = "30 3 * * *"


def cascade_ingestion(
    *,
    table_name: str,
    unique_key: str | Sequence[str],
    group: str,
    validation_schema: type | None = None,
    iceberg_schema: Any = None,
    partition_spec: Any = None,
    partitions: str | None = "daily",
    cron: str | None = None,
    freshness_hours: tuple[float, float] | None = None,
    max_runtime_seconds: int | None = None,
    max_retries: int | None = None,
    retry_delay_seconds: int | None = None,
    validate: bool = True,
    allow_breaking: tuple[str, ...] = (),
    ignored_keys: tuple[str, ...] = (),
    maintenance: str | Mapping[str, Any] | None = DEFAULT_MAINTENANCE,
) -> Callable[[F], F]:
    """Mark a function that returns a dlt source or resource for one partition: an hour, a
    day (the default), a week or a month, which it receives as text (README, "Partitions and
    automation"); with `partitions=None` it takes no argument and returns the whole table.
    `maintenance` is the cron of the table's upkeep job, a dict of its options, or None for
    none (README, "Table upkeep")."""
    params = dict(
        table_name=table_name,
        unique_key=unique_key,
        group=group,
        validation_schema=validation_schema,
        iceberg_schema=iceberg_schema,
        partition_spec=partition_spec,
        partitions=partitions,
        cron=cron,
        freshness_hours=freshness_hours,
        max_runtime_seconds=max_runtime_seconds,
        max_retries=max_retries,
        retry_delay_seconds=retry_delay_seconds,
        validate=validate,
        allow_breaking=allow_breaking,
        ignored_keys=ignored_keys,
        maintenance=maintenance,
    )

    def mark(fn: F) -> F:
        setattr(fn, MARKER, dict(params))
        return fn

    return mark
