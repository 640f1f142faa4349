from pandera.pandas import DataFrameModel, Field

from cascade.runtime import cascade_ingestion


class Events(DataFrameModel):
    event_id: str | None = Field(nullable=True, description="May be missing")
    kind: str


@cascade_ingestion(
    table_name="events",
    unique_key=("event_id", "_dlt_id"),
    validation_schema=Events,
    group="app",
)
def events(partition_date: str):
    return None
