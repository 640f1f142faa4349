from cascade.runtime import cascade_ingestion
from models.repos import RepoStats


@cascade_ingestion(
    table_name="repo_stats",
    unique_key=("repo_id", "snapshot_date"),
    validation_schema=RepoStats,
    group="github",
)
def repo_stats(partition_date: str):
    """Daily repository statistics."""
    return None
