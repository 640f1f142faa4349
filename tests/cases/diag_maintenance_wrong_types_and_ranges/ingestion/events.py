from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance={
        "cron": None,
        "retention_days": "7",
        "orphan_age_hours": 0.5,
        "target_file_size_mb": 0,
    },
)
def events(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pings",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance={"retention_days": -1, "orphan_age_hours": True, "target_file_size_mb": 1e309},
)
def pings(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pongs",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance=3,
)
def pongs(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pangs",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance=["30 3 * * *"],
)
def pangs(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pungs",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance={"retention_days": 36501},
)
def pungs(partition_date: str):
    return None
