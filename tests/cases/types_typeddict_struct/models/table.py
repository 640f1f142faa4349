from typing_extensions import TypedDict

from pandera.pandas import DataFrameModel, Field


class Geo(TypedDict):
    lat: float
    lon: float


class Address(TypedDict):
    street: str
    zip_code: str | None
    geo: Geo
    lines: list[str]


class Customers(DataFrameModel):
    customer_id: str
    address: Address = Field(description="Current address")
    previous_addresses: list[Address] | None
    active: bool
