import dlt

from cascade.runtime import cascade_ingestion
from models.readings import Readings


@cascade_ingestion(
    table_name="hourly_readings",
    unique_key="reading_id",
    validation_schema=Readings,
    group="sensors",
    partitions="hourly",
    cron="*/15 * * * *",
)
def hourly_readings(partition_hour: str):
    """Readings of one hour, asked for by the hour's start (2024-01-01T05:00:00+00:00)."""
    return dlt.resource(
        [{"reading_id": f"r-{partition_hour}", "received": partition_hour}], name="readings"
    )
