from cascade.runtime import cascade_ingestion
from models.users import Users


@cascade_ingestion(
    table_name="users",
    unique_key="user_id",
    validation_schema=Users,
    group="app",
    partition_spec=[],
)
def users(partition_date: str):
    return None
