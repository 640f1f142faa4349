from cascade.runtime import cascade_ingestion
from models.table import NoneFirst


@cascade_ingestion(
    table_name="types_none_first_union",
    unique_key='key',
    validation_schema=NoneFirst,
    group="cases",
)
def load(partition_date: str):
    return None
