from datetime import datetime

from pandera.pandas import DataFrameModel, Field

from cascade.runtime import cascade_ingestion


class Users(DataFrameModel):
    user_id: str = Field(description="Account id")
    email: str | None
    age: int
    signed_up_at: datetime
    nickname: str | None


@cascade_ingestion(
    table_name="users",
    unique_key="user_id",
    validation_schema=Users,
    group="app",
    partition_spec=[("signed_up_at", "month")],
)
def users(partition_date: str):
    return None
