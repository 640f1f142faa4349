import dlt

from cascade.runtime import cascade_ingestion
from models.readings import Readings


@cascade_ingestion(
    table_name="weekly_readings",
    unique_key="reading_id",
    validation_schema=Readings,
    group="sensors",
    partitions="weekly",
    cron="0 6 * * 1",
)
def weekly_readings(week_start: str):
    """Readings of one week, asked for by its Sunday; partition_start 2024-01-03, a Wednesday,
    is in the week from Sunday 2023-12-31."""
    return dlt.resource(
        [{"reading_id": f"r-{week_start}", "received": week_start}], name="readings"
    )
