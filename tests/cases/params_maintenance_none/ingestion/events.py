from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance=None,
)
def events(partition_date: str):
    """No upkeep job: the table is maintained some other way."""
    return None


@cascade_ingestion(
    table_name="pings",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
)
def pings(partition_date: str):
    return None
