from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance={
        "cron": "15 2 * * *",
        "retention_days": 30,
        "orphan_age_hours": 48.5,
        "target_file_size_mb": 256,
    },
)
def events(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pings",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    # Only some options: the others keep their defaults (cron "30 3 * * *", 7 days, 24 hours).
    maintenance={"retention_days": 0.5, "target_file_size_mb": None},
)
def pings(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pongs",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance={},
)
def pongs(partition_date: str):
    return None
