import cascade.runtime as cr
from models.events import Events


@cr.cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
)
def events(partition_date: str):
    return None
