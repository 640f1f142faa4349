from cascade.runtime import cascade_ingestion
from models.table import Trips


@cascade_ingestion(
    table_name="types_polars_model",
    unique_key='trip_id',
    validation_schema=Trips,
    group="cases",
)
def load(partition_date: str):
    return None
