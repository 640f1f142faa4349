from cascade.runtime import cascade_ingestion
from models.visits import Visits


@cascade_ingestion(
    table_name="visits",
    unique_key="visit_id",
    validation_schema=Visits,
    group="web",
    partition_spec=[("started_at", "day"), ("started_at", "hour")],
)
def visits(partition_date: str):
    return None
