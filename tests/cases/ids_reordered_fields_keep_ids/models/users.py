from pandera.pandas import DataFrameModel, Field


class Users(DataFrameModel):
    country: str
    email: str
    user_id: str = Field(description="User id")
    age: int | None
