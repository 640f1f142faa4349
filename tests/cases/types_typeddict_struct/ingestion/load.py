from cascade.runtime import cascade_ingestion
from models.table import Customers


@cascade_ingestion(
    table_name="types_typeddict_struct",
    unique_key='customer_id',
    validation_schema=Customers,
    group="cases",
)
def load(partition_date: str):
    return None
