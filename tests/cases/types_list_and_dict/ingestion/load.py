from cascade.runtime import cascade_ingestion
from models.table import Documents


@cascade_ingestion(
    table_name="types_list_and_dict",
    unique_key='doc_id',
    validation_schema=Documents,
    group="cases",
)
def load(partition_date: str):
    return None
