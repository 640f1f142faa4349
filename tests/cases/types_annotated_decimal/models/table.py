from typing import Annotated

import pandera.pandas as pa
from pandera.pandas import DataFrameModel, Field


class Prices(DataFrameModel):
    sku: str
    amount: Annotated[pa.Decimal, 10, 2, None] = Field(description="Amount, 2 decimals")
