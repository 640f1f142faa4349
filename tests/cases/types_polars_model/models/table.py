from typing import Annotated

import pandera.polars as pa
import polars as pl


class Trips(pa.DataFrameModel):
    """Taxi trips, validated with Pandera's polars backend."""

    trip_id: pl.Int32 = pa.Field(unique=True)
    driver: pl.Utf8 = pa.Field(description="Driver name")
    started_at: Annotated[pl.Datetime, "us", "UTC"]
    ended_at: Annotated[pl.Datetime, "us", None]
    distance_km: pl.Float64 | None = pa.Field(nullable=True, ge=0)
    day: pl.Date
