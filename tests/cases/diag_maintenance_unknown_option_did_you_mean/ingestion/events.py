from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance={"cron": "30 3 * * *", "retention": 30, "schedule": "daily", 7: 1},
)
def events(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pings",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenence="30 3 * * *",
)
def pings(partition_date: str):
    return None
