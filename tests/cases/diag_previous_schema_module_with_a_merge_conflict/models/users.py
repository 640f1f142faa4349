from pandera.pandas import DataFrameModel, Field


class Users(DataFrameModel):
    user_id: str = Field(description="User id")
    email: str
    age: int | None
    country: str
    signup_channel: str | None
