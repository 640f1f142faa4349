from pandera.pandas import DataFrameModel, Field


class Metrics(DataFrameModel):
    """Metrics with every kind of Config option a team sets."""

    metric: str = Field(description="Metric name")
    value: float

    class Config:
        name = "metrics"
        title = "Metrics"
        description = "Config descriptions do not reach the table"
        strict = "filter"
        coerce = True
        ordered = False
        unique = ["metric"]
        unique_column_names = True
        add_missing_columns = True
