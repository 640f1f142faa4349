from cascade.runtime import cascade_ingestion
from models.table import Payments


@cascade_ingestion(
    table_name="types_timestamptz_and_dtype_kwargs_decimal",
    unique_key='payment_id',
    validation_schema=Payments,
    group="cases",
)
def load(partition_date: str):
    return None
