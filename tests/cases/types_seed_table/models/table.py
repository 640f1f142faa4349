from datetime import date, datetime
from decimal import Decimal

from pandera.pandas import DataFrameModel


class SeedTypes(DataFrameModel):
    """Every row of the seed's type table."""

    text: str
    count: int
    ratio: float
    flag: bool
    seen_at: datetime
    seen_on: date
    blob: bytes
    price: Decimal
