from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance={"max_file_rows": 0},
)
def events(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pings",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance={"retention_days": 30, "max_file_rows": 1e6},
)
def pings(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pongs",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance={"max_file_rows": True},
)
def pongs(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pangs",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance={"max_file_rows": "1000"},
)
def pangs(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pungs",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance={"max_file_rows": 1_000_000_001, "max_rows": 1000},
)
def pungs(partition_date: str):
    return None
