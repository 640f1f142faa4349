from cascade.runtime import cascade_ingestion
from models.table import Customers


@cascade_ingestion(
    table_name="customers",
    unique_key="customer_id",
    validation_schema=Customers,
    group="app",
)
def customers(partition_date: str):
    return None
