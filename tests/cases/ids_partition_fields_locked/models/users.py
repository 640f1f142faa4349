import pandera.pandas as pa
from pandera.pandas import DataFrameModel, Field


class Users(DataFrameModel):
    user_id: str = Field(description="User id")
    email: str
    age: int | None
    country: str
    created_at: pa.DateTime
    score: pa.Int32
