"""The model every raw table of the project derives from: what all sources have in common."""

from pandera.pandas import DataFrameModel


class RawModel(DataFrameModel):
    """A table as a source delivers it, before any cleaning."""

    class Config:
        # Sources add fields over time; a new field is not a reason to reject a load (the
        # generated Iceberg schema decides which columns are kept).
        strict = False
        # Values arrive as JSON; cast them to the declared dtypes before checking them.
        coerce = True
