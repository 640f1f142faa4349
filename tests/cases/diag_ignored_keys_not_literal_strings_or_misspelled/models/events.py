from typing_extensions import TypedDict

from pandera.pandas import DataFrameModel, Field


class Place(TypedDict):
    name: str
    country: str | None


class Point(TypedDict):
    lat: float
    lon: float


class Events(DataFrameModel):
    event_id: str
    actor_login: str = Field(alias="actor__login")
    payload_action: str | None = Field(alias="payload__action")
    place: Place | None
    track: list[Point] | None
    sites: dict[str, Point] | None
    label: str | None = Field(metadata={"cascade": {"renamed_from": "title"}})
