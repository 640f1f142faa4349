from cascade.runtime import cascade_ingestion
from models.table import Orders


@cascade_ingestion(
    table_name="model_inherited_from_other_module",
    unique_key='order_id',
    validation_schema=Orders,
    group="cases",
)
def load(partition_date: str):
    return None
