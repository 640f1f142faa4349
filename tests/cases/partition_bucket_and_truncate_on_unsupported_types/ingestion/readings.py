from datetime import datetime

from pandera.pandas import DataFrameModel

from cascade.runtime import cascade_ingestion


class Readings(DataFrameModel):
    reading_id: str
    value: float
    taken_at: datetime
    valid: bool


@cascade_ingestion(
    table_name="readings",
    unique_key="reading_id",
    validation_schema=Readings,
    group="iot",
    partition_spec=[("value", "bucket[4]"), ("taken_at", "truncate[10]"), ("valid", "bucket[2]")],
)
def readings(partition_date: str):
    return None
