import datetime
import uuid

import pandera.pandas as pa
from pandera.typing import Series


class Sessions(pa.DataFrameModel):
    session_id: uuid.UUID = pa.Field(description="Session UUID")
    opens_at: datetime.time = pa.Field(description="Local opening time")
    clicks: Series[int] = pa.Field(ge=0)
    score: Series[pa.Float32]
    label: Series[str] | None = pa.Field(nullable=True)
