import dlt

from cascade.runtime import cascade_ingestion
from models.readings import Readings


@cascade_ingestion(
    table_name="monthly_readings",
    unique_key="reading_id",
    validation_schema=Readings,
    group="sensors",
    partitions="monthly",
    cron="30 2 1,15 * *",
)
def monthly_readings(month_start: str):
    """Readings of one month, asked for by its first day; partition_start 2024-01-15 is in
    January."""
    return dlt.resource(
        [{"reading_id": f"r-{month_start}", "received": month_start}], name="readings"
    )
