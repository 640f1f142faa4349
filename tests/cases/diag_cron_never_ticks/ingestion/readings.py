import dlt

from cascade.runtime import cascade_ingestion
from models.readings import Readings


@cascade_ingestion(
    table_name="sensor_snapshot",
    unique_key="reading_id",
    validation_schema=Readings,
    group="sensors",
    partitions=None,
    cron="0 0 31 2 *",  # 31 February: never
    freshness_hours=(24, 48),
)
def sensor_snapshot():
    """Every sensor's latest reading: a snapshot of the whole table at each load."""
    return dlt.resource(
        [{"reading_id": f"r-{n}", "received": "whole table"} for n in range(3)], name="readings"
    )
