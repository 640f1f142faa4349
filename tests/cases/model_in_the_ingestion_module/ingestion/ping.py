from datetime import datetime

import pandera.pandas as pa

from cascade.runtime import cascade_ingestion


class Pings(pa.DataFrameModel):
    host: str
    at: datetime
    latency_ms: pa.Float32


@cascade_ingestion(
    table_name="pings",
    unique_key=("host", "at"),
    validation_schema=Pings,
    group="ops",
    partition_spec=[("at", "day")],
)
def pings(partition_date: str):
    return None
