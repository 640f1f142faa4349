from cascade.runtime import cascade_ingestion
from models.table import Spellings


@cascade_ingestion(
    table_name="types_optional_spellings",
    unique_key='plain',
    validation_schema=Spellings,
    group="cases",
)
def load(partition_date: str):
    return None
