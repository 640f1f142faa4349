from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name=None,
    unique_key=None,
    validation_schema=Events,
    group=None,
)
def events(partition_date: str):
    return None
