from cascade.runtime import cascade_ingestion
from models.events import Events

REGION = "eu"


@cascade_ingestion(
    table_name=f"events_{REGION}",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
)
def events(partition_date: str):
    return None
