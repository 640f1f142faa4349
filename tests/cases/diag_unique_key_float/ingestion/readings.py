import pandera.pandas as pa
from pandera.typing import Series

from cascade.runtime import cascade_ingestion


class Reading(pa.DataFrameModel):
    """A sensor reading keyed by its timestamp in fractional epoch seconds."""

    epoch_seconds: Series[float] = pa.Field(description="When it was read")
    value: Series[int]


@cascade_ingestion(
    table_name="readings",
    unique_key="epoch_seconds",
    validation_schema=Reading,
    group="sensors",
)
def readings(partition_date: str):
    return None
