"""Run configuration of an ingestion asset and of an upkeep job."""

import dagster as dg

# A batch of more rows than this is prepared and merged a chunk at a time (README, "What a
# load does"): what a load holds in memory follows this, not the batch's size.
DEFAULT_CHUNK_ROWS = 100_000


class IngestionConfig(dg.Config):
    """Which Iceberg branch to write (a run tag `branch` takes precedence over it), and the
    rows a load holds in memory at a time."""

    branch_name: str = "main"
    chunk_rows: int = DEFAULT_CHUNK_ROWS


class UpkeepConfig(dg.Config):
    """A dry run of a generated upkeep job: what it would do, reported; nothing changed."""

    dry_run: bool = False
