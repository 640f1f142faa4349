from typing_extensions import TypedDict

from pandera.pandas import DataFrameModel, Field


class Address(TypedDict):
    street: str
    city: str


class AddressV2(TypedDict):
    street: str
    city: str
    postcode: str | None


class Users(DataFrameModel):
    user_id: str
    address: AddressV2
    emails: list[str]
    history: list[AddressV2]
    tags: dict[str, str] | None
