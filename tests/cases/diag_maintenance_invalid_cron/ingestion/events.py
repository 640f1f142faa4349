from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance="30 25 * * *",
)
def events(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pings",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance={"cron": "daily", "retention_days": 14},
)
def pings(partition_date: str):
    return None
