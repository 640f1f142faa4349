from typing import Annotated, Optional

import pandas as pd
import pandera.pandas as pa
from pandera.pandas import DataFrameModel, Field


class Payments(DataFrameModel):
    payment_id: str
    paid_at: Annotated[pd.DatetimeTZDtype, "ns", "UTC"] = Field(description="UTC instant")
    refunded_at: Optional[Annotated[pd.DatetimeTZDtype, "us", "UTC"]] = Field(nullable=True)
    fx_rate: pa.Decimal = Field(dtype_kwargs={"precision": 12, "scale": 3})
