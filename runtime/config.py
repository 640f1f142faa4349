"""Run configuration of an ingestion asset and of an upkeep job."""

import dagster as dg


class IngestionConfig(dg.Config):
    """Which Iceberg branch to write; a run tag `branch` takes precedence over it."""

    branch_name: str = "main"


class UpkeepConfig(dg.Config):
    """A dry run of a generated upkeep job: what it would do, reported; nothing changed."""

    dry_run: bool = False
