"""Run configuration of an ingestion asset."""

import dagster as dg


class IngestionConfig(dg.Config):
    """Which Iceberg branch to write; a run tag `branch` takes precedence over it."""

    branch_name: str = "main"
