from pandera.pandas import DataFrameModel, Field


class Users(DataFrameModel):
    user_id: str = Field(description="User id")
    email_address: str = Field(metadata={"cascade": {"renamed_from": "email"}})
    age: int | None
    country: str
