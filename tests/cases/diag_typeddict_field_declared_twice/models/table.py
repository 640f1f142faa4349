from pandera.pandas import DataFrameModel, Field
from typing_extensions import TypedDict


class Address(TypedDict):
    street: str
    lines: list[str]
    lines: list[str]


class Customers(DataFrameModel):
    customer_id: str
    address: Address = Field(description="Current address")
