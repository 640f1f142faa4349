from pandera.pandas import DataFrameModel, Field


class Readings(DataFrameModel):
    """Readings, each holding the partition its load asked for."""

    reading_id: str = Field(unique=True, description="Reading id")
    received: str = Field(description="What the ingestion function received")
