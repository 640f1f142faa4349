from cascade.runtime import cascade_ingestion
from models.events import Events

UPKEEP_CRON = "30 3 * * *"


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance=UPKEEP_CRON,
)
def events(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pings",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance={"cron": UPKEEP_CRON},
)
def pings(partition_date: str):
    return None
