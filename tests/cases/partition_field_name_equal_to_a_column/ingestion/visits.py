from datetime import date, datetime

from pandera.pandas import DataFrameModel

from cascade.runtime import cascade_ingestion


class Visits(DataFrameModel):
    visit_id: str
    started_at: datetime
    started_at_day: date


@cascade_ingestion(
    table_name="visits",
    unique_key="visit_id",
    validation_schema=Visits,
    group="web",
    partition_spec=[("started_at", "day")],
)
def visits(partition_date: str):
    return None
