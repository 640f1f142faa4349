from pandera.pandas import DataFrameModel, Field


class Glucose(DataFrameModel):
    """Glucose readings."""

    # Pandera ignores attributes starting with "_": map the column with alias=.
    entry_id: str = Field(alias="_id", unique=True, description="Nightscout entry id")
    sgv: int = Field(ge=1, le=1000, description="Sensor glucose value in mg/dL")
    direction: str | None = Field(isin=["Flat", "SingleUp"], nullable=True)
    device: str = Field(str_length={"min_value": 1, "max_value": 64}, description="Device")
    code: str = Field(str_matches=r"^[A-Z]{3}$", title="Code", description="Three letters")
    score: float = Field(in_range={"min_value": 0, "max_value": 1}, coerce=True)
    status: str = Field(notin=["deleted"], str_startswith="s", eq="sgv", raise_warning=True)
