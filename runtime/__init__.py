"""What generated code and user code import at run time.

User modules import `cascade_ingestion` from here, and the compiler never imports them, but
Dagster does when it loads definitions. Exports are therefore resolved on first use, so that
importing the decorator does not pull in dagster, dlt, pyiceberg and pandera.
"""

import warnings
from importlib import import_module
from typing import TYPE_CHECKING

# Dagster 1.13 marks `@asset(backfill_policy=...)` as beta and says so each time definitions
# load; every generated partitioned asset declares it (single-run backfills, README
# "Backfills"), so the warning would open every run's log and every `dagster` command.
warnings.filterwarnings(
    "ignore", message="Parameter `backfill_policy` of function `asset` is currently in beta"
)

_EXPORTS = {
    "cascade_ingestion": "decorator",
    "IcebergResource": "catalog",
    "IngestionConfig": "config",
    "UpkeepConfig": "config",
    "load_on_cron": "automation",
    "run_ingestion": "run",
    "run_upkeep": "upkeep_job",
    "merge_batch": "merge",
    "MergeOutcome": "merge",
    "CascadeError": "errors",
    "SourceError": "errors",
    "BatchError": "errors",
    "ValidationFailed": "errors",
    "TableMismatchError": "errors",
    "BranchError": "errors",
}

__all__ = [
    "BatchError",
    "BranchError",
    "CascadeError",
    "IcebergResource",
    "IngestionConfig",
    "MergeOutcome",
    "SourceError",
    "TableMismatchError",
    "UpkeepConfig",
    "ValidationFailed",
    "cascade_ingestion",
    "load_on_cron",
    "merge_batch",
    "run_ingestion",
    "run_upkeep",
]

if TYPE_CHECKING:
    from cascade.runtime.automation import load_on_cron
    from cascade.runtime.catalog import IcebergResource
    from cascade.runtime.config import IngestionConfig, UpkeepConfig
    from cascade.runtime.decorator import cascade_ingestion
    from cascade.runtime.errors import (
        BatchError,
        BranchError,
        CascadeError,
        SourceError,
        TableMismatchError,
        ValidationFailed,
    )
    from cascade.runtime.merge import MergeOutcome, merge_batch
    from cascade.runtime.run import run_ingestion
    from cascade.runtime.upkeep_job import run_upkeep


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
