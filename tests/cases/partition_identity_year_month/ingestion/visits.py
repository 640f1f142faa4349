from cascade.runtime import cascade_ingestion
from models.visits import Visits


@cascade_ingestion(
    table_name="visits",
    unique_key="visit_id",
    validation_schema=Visits,
    group="web",
    partition_spec=[("country", "identity"), ("visit_day", "year"), ("started_at", "month")],
)
def visits(partition_date: str):
    return None
