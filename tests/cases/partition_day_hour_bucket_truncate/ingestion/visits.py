from cascade.runtime import cascade_ingestion
from models.visits import Visits


@cascade_ingestion(
    table_name="visits",
    unique_key="visit_id",
    validation_schema=Visits,
    group="web",
    partition_spec=[("visit_day", "day"), ("started_at", "hour"), ("user_id", "bucket[16]"), ("path", "truncate[4]")],
)
def visits(partition_date: str):
    return None
