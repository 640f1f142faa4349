from cascade.runtime import cascade_ingestion
from models.table import Items


@cascade_ingestion(
    table_name="warning_unknown_field_option",
    unique_key='item_id',
    validation_schema=Items,
    group="cases",
)
def load(partition_date: str):
    return None
