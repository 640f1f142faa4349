"""Check a batch against the user's Pandera model before anything is written.

Models written with Pandera's pandas API see the batch as a pandas DataFrame; models written
with its polars API (`pandera.polars.DataFrameModel`) see it as a polars DataFrame. Both get
the same treatment and the same error message.
"""

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandera.errors
import pyarrow as pa
from pandera.api.dataframe.model import DataFrameModel

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
        schema.validate(_frame(batch.select(keep), schema), lazy=True)
    except pandera.errors.SchemaErrors as errors:
        failures = _describe(_records(errors.failure_cases), batch)
        raise ValidationFailed(
            f"{model.__name__} rejected the batch for {table_name}; nothing was written.\n"
            + "\n".join(failures),
            metadata={"model": model.__name__, "failed_checks": len(failures)},
        ) from None


def _checks_only(schema: Any) -> Any:
    """The schema with its column dtypes unset, keeping every check.

    The batch has already been cast to the generated Iceberg schema, which the compiler derived
    from this same model, so types are enforced. Pandera's dtype checks would disagree with the
    conversion of correct Arrow data anyway: in pandas ints with nulls become float64, and a
    `datetime` field expects naive datetime64[ns] where the table holds UTC microseconds.
    """
    return schema.update_columns({name: {"dtype": None} for name in schema.columns})


def _frame(batch: pa.Table, schema: Any) -> Any:
    """The batch as the DataFrame library the model is written for."""
    if type(schema).__module__.startswith("pandera.api.polars"):
        import polars  # only models written for polars need it

        return polars.from_arrow(batch)
    return batch.to_pandas()


def _records(failure_cases: Any) -> list[Mapping[str, Any]]:
    """Pandera's failure cases (a pandas or a polars DataFrame) as plain rows."""
    if hasattr(failure_cases, "to_dicts"):
        return failure_cases.to_dicts()
    return failure_cases.to_dict("records")


def _describe(failure_cases: Iterable[Mapping[str, Any]], batch: pa.Table) -> list[str]:
    """One line per failed check: `column: check failed for N row(s): v1, v2`.

    Checks on the whole frame (a missing column, say) have no rows; their line lists what
    failed instead.
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for case in failure_cases:
        groups.setdefault((case["column"], case["check"]), []).append(case)
    lines = []
    for (column, check), cases in groups.items():
        rows = [case for case in cases if not _missing(case["index"])]
        if not rows:
            values = ", ".join(_show(case["failure_case"]) for case in cases[:SAMPLE_SIZE])
            lines.append(f"{column}: {check} failed: {values}")
            continue
        values = ", ".join(
            _show(_value(batch, column, int(case["index"]), case["failure_case"]))
            for case in rows[:SAMPLE_SIZE]
        )
        lines.append(f"{column}: {check} failed for {len(rows)} row(s): {values}")
    return lines


def _value(batch: pa.Table, column: str, row: int, failure_case: object) -> object:
    """The failing value as the batch holds it (pandas turns ints with nulls into floats, and
    polars reports every failure case as text)."""
    if column in batch.column_names:
        return batch.column(column)[row].as_py()
    return failure_case


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)
