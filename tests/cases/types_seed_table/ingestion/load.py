from cascade.runtime import cascade_ingestion
from models.table import SeedTypes


@cascade_ingestion(
    table_name="types_seed_table",
    unique_key='text',
    validation_schema=SeedTypes,
    group="cases",
)
def load(partition_date: str):
    return None
