import dlt

from cascade.runtime import cascade_ingestion
from models.readings import Readings


@cascade_ingestion(
    table_name="daily_readings",
    unique_key="reading_id",
    validation_schema=Readings,
    group="sensors",
    partitions="daily",
    cron="0 */1 * * *",
)
def daily_readings(partition_date: str):
    """Readings of one day: partitions="daily" is the default, and generates what it does."""
    return dlt.resource(
        [{"reading_id": f"r-{partition_date}", "received": partition_date}], name="readings"
    )
