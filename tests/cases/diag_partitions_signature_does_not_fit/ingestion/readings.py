from cascade.runtime import cascade_ingestion
from models.readings import Readings


@cascade_ingestion(
    table_name="snapshot", unique_key="reading_id", validation_schema=Readings, group="g",
    partitions=None,
)
def snapshot(partition_date: str):
    """A whole-table load is called without an argument."""
    return None


@cascade_ingestion(
    table_name="hourly", unique_key="reading_id", validation_schema=Readings, group="g",
    partitions="hourly",
)
def hourly():
    """An hourly load is called with the hour."""
    return None


@cascade_ingestion(
    table_name="weekly", unique_key="reading_id", validation_schema=Readings, group="g",
    partitions="weekly",
)
def weekly(week_start: str, region: str):
    """Two required parameters: the asset passes one."""
    return None


@cascade_ingestion(
    table_name="daily", unique_key="reading_id", validation_schema=Readings, group="g"
)
def daily(partition_date: str, *, token: str):
    """A required keyword-only parameter: the asset passes none."""
    return None


@cascade_ingestion(
    table_name="fits_both", unique_key="reading_id", validation_schema=Readings, group="g",
    partitions=None,
)
def fits_both(partition_date: str | None = None, *args: str, limit: int = 10):
    """Callable without an argument: fits a whole-table load."""
    return None


@cascade_ingestion(
    table_name="monthly", unique_key="reading_id", validation_schema=Readings, group="g",
    partitions="monthly",
)
def monthly(*months: str):
    """Takes any number of positional arguments: one fits."""
    return None
