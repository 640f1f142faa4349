"""The model every raw table of the project derives from: what all sources have in common."""

from pandera.pandas import DataFrameModel


class RawModel(DataFrameModel):
    """A table as a source delivers it, before any cleaning."""

    class Config:
        # Sources add fields over time; a new field is not a reason to reject a load (the
        # generated Iceberg schema decides which columns are kept).
        strict = False
        # For the model used on its own (a notebook, a test): cast to the declared dtypes.
        # Loads need no coercion: Cascade's staging gives each column its declared type and
        # refuses a value that does not fit (README, "Value rules").
        coerce = True
