from datetime import datetime

import numpy as np
from pandera.pandas import DataFrameModel, Field

from cascade.runtime import cascade_ingestion


class Users(DataFrameModel):
    user_id: str = Field(description="User id")
    email: str
    age: np.int32 | None
    signed_up_at: datetime


@cascade_ingestion(
    table_name="users",
    unique_key="user_id",
    validation_schema=Users,
    group="app",
    partition_spec=[("signed_up_at", "day")],
)
def users(partition_date: str):
    return None
