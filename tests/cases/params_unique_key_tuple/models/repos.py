from datetime import date

import pandera.pandas as pa
from pandera.pandas import DataFrameModel, Field


class RepoStats(DataFrameModel):
    """One row per repository and day."""

    repo_id: pa.Int64 = Field(ge=1, description="Repository id")
    snapshot_date: date = Field(description="Day of the snapshot")
    stars: pa.Int32 = Field(ge=0, description="Stars")
