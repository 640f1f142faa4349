from pandera.pandas import DataFrameModel

from cascade.runtime import cascade_ingestion


class Events(DataFrameModel):
    event_id: str


@cascade_ingestion(
    table_name="class",
    unique_key="event_id",
    validation_schema=Events,
    group="import",
)
def events(partition_date: str):
    return None
