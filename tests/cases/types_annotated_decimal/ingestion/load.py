from cascade.runtime import cascade_ingestion
from models.table import Prices


@cascade_ingestion(
    table_name="types_annotated_decimal",
    unique_key='sku',
    validation_schema=Prices,
    group="cases",
)
def load(partition_date: str):
    return None
