from pandera.pandas import DataFrameModel, Field


class Users(DataFrameModel):
    user_id: str = Field(description="User id")
    age: int | None
    country: str
    plan: str | None
