from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance={"retention_days": 30, "max_file_rows": 250_000},
)
def events(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pings",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    # None is the default (500000 rows): the call is the one without the key.
    maintenance={"max_file_rows": None, "target_file_size_mb": 64},
)
def pings(partition_date: str):
    return None
