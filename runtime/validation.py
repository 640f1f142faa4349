"""Check a batch against the user's Pandera model before anything is written."""

import pandas as pd
import pandera.errors
import pyarrow as pa
from pandera.api.dataframe.model import DataFrameModel
from pandera.api.pandas.container import DataFrameSchema

from cascade.runtime.batch import INGESTED_AT
from cascade.runtime.errors import ValidationFailed

# Columns that dlt and Cascade add; they are not part of what the model describes.
LOAD_COLUMNS = ("_dlt_load_id", "_dlt_id", INGESTED_AT)

# How many failing values each failed check shows.
SAMPLE_SIZE = 5


def validate_batch(batch: pa.Table, model: type[DataFrameModel], table_name: str) -> None:
    """Raise `ValidationFailed` naming each failed check, its column and sample values."""
    schema = _checks_only(model.to_schema())
    keep = [
        name for name in batch.column_names if name not in LOAD_COLUMNS or name in schema.columns
    ]
    try:
        schema.validate(batch.select(keep).to_pandas(), lazy=True)
    except pandera.errors.SchemaErrors as errors:
        failures = _describe(errors.failure_cases, batch)
        raise ValidationFailed(
            f"{model.__name__} rejected the batch for {table_name}; nothing was written.\n"
            + "\n".join(failures),
            metadata={"model": model.__name__, "failed_checks": len(failures)},
        ) from None


def _checks_only(schema: DataFrameSchema) -> DataFrameSchema:
    """The schema with its column dtypes unset, keeping every check.

    The batch has already been cast to the generated Iceberg schema, which the compiler derived
    from this same model, so types are enforced. Pandera's dtype checks would disagree with the
    pandas conversion of correct Arrow data anyway: ints with nulls become float64, and a
    `datetime` field expects naive datetime64[ns] where the table holds UTC microseconds.
    """
    return schema.update_columns({name: {"dtype": None} for name in schema.columns})


def _describe(failure_cases: pd.DataFrame, batch: pa.Table) -> list[str]:
    """One line per failed check: `column: check failed for N row(s): v1, v2`.

    Checks on the whole frame (a missing column, say) have no rows; their line lists what
    failed instead.
    """
    lines = []
    groups = failure_cases.groupby(["column", "check"], sort=False, dropna=False)
    for (column, check), cases in groups:
        rows = cases[cases["index"].notna()]
        if rows.empty:
            values = ", ".join(map(_show, cases["failure_case"].head(SAMPLE_SIZE)))
            lines.append(f"{column}: {check} failed: {values}")
            continue
        sample = rows.head(SAMPLE_SIZE)
        values = ", ".join(
            _show(_value(batch, column, int(row), case))
            for row, case in zip(sample["index"], sample["failure_case"], strict=True)
        )
        lines.append(f"{column}: {check} failed for {len(rows)} row(s): {values}")
    return lines


def _value(batch: pa.Table, column: str, row: int, failure_case: object) -> object:
    """The failing value as the batch holds it (pandas turns ints with nulls into floats)."""
    if column in batch.column_names:
        return batch.column(column)[row].as_py()
    return failure_case


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)
