"""Pandera models of the Nightscout data we ingest: the single source of truth for its shape."""

from datetime import datetime

from pandera.pandas import DataFrameModel, Field

GLUCOSE_DIRECTIONS = [
    "DoubleUp",
    "SingleUp",
    "FortyFiveUp",
    "Flat",
    "FortyFiveDown",
    "SingleDown",
    "DoubleDown",
    "NOT COMPUTABLE",
    "RATE OUT OF RANGE",
    "NONE",
]


class RawGlucoseEntries(DataFrameModel):
    """Continuous glucose monitor readings as the Nightscout API returns them."""

    # Pandera treats attributes that start with "_" as private, so the Mongo id is
    # declared under another attribute name and mapped back to its column with alias=.
    entry_id: str = Field(
        alias="_id", nullable=False, unique=True, description="Nightscout entry id"
    )
    sgv: int = Field(ge=1, le=1000, description="Sensor glucose value in mg/dL")
    date: int = Field(ge=0, description="Reading time, milliseconds since the Unix epoch")
    date_string: datetime = Field(description="Reading time, ISO 8601")
    trend: int | None = Field(ge=0, le=9, nullable=True, description="Trend arrow code, 0-9")
    direction: str | None = Field(isin=GLUCOSE_DIRECTIONS, nullable=True, description="Trend arrow")
    device: str | None = Field(nullable=True, description="Uploading device")
    type: str | None = Field(isin=["sgv", "mbg", "cal"], nullable=True, description="Entry type")
    utc_offset: int | None = Field(nullable=True, description="Minutes from UTC at the reading")
    sys_time: str | None = Field(nullable=True, description="Device system time, ISO 8601")

    class Config:
        strict = False
