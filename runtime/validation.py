"""Check a batch against the user's Pandera model before anything is written: whole
(`validate_batch`), or a chunk at a time for a big load (`ChunkedValidation`, with the same
lines: checks that need whole columns run once, on those columns of every chunk).

Models written with Pandera's pandas API see the batch as a pandas DataFrame; models written
with its polars API (`pandera.polars.DataFrameModel`) see it as a polars DataFrame. Both get
the same treatment and the same error message: one line per failed check,
`column: check failed for N row(s): v1, v2`, the values read back from the Arrow batch (a null
shows as `None`, NaN as `nan`, an int exactly as stored). One exception: a model's own
frame-wide check (`@dataframe_check`) is reported per column by pandas and as whole rows by
polars, as Pandera reports them.

NaN is a value, not a null (Cascade's value rules). The batch is Arrow, where NaN and null are
different things; both frames keep them apart:
- pandas: float and int columns become Arrow-backed (`double[pyarrow]`, `int64[pyarrow]`), whose
  `isna()` is the Arrow validity only, instead of numpy float64 (where NaN *is* pandas' null,
  and where an int column with nulls would turn into float64 and lose ints above 2**53).
  Checks compare by IEEE rules: NaN fails `ge`, `gt`, `le`, `lt`, `eq`, `in_range` and
  `isin`; -inf fails `ge=0`, +inf passes it. Other columns convert as pandas does by default.
- polars keeps NaN apart already, but Pandera's polars backend counts NaN as null in a
  required float column, and polars orders NaN above every number, so its `gt`/`ge` accept
  NaN. For float columns the schema validated here replaces Pandera's null test with one that
  reads nulls only, and makes the built-in `gt`/`ge` reject NaN; check names and messages are
  unchanged. A model's own polars checks (`@pa.check`) still see polars' ordering.
A true null in a nullable column is skipped by every check (Pandera's `ignore_na`); a null in
a required column fails `not_nullable`.

Uniqueness (verified on Pandera 0.35, pandas 3.1, polars 2.1): `unique=True` and the model's
`Config.unique` compare nulls as equal values, so two nulls in a unique column fail the check
(one null passes), unlike SQL's UNIQUE; two NaNs are duplicates too, NaN and null are not,
0.0 and -0.0 are. Pandera's pandas backend decides so but drops the null rows from its failure
cases (a batch could be refused with no reason at all); the rows reported here for uniqueness
are recomputed with the same call Pandera made (`duplicated` in pandas, `is_duplicated` in
polars), so every duplicate shows, nulls as `None` (a model cannot set `report_duplicates`, so
every row of a repeated value is reported, the first one too).
"""

import copy
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pandera.errors
import pyarrow as pa
import pyarrow.compute as pc
from pandera.api.checks import Check
from pandera.api.dataframe.model import DataFrameModel
from pandera.api.function_dispatch import Dispatcher

from cascade.runtime.contract import METADATA_COLUMN_NAMES  # not what the model describes
from cascade.runtime.errors import SAMPLE_SIZE, ModelError, ValidationFailed

COLUMN_UNIQUENESS = "field_uniqueness"
MODEL_UNIQUENESS = "multiple_fields_uniqueness"
NOT_NULLABLE = "not_nullable"

# Pandera's `report_duplicates` -> the `keep` argument of pandas' `duplicated`.
KEEP = {"exclude_first": "first", "exclude_last": "last", "all": False}


def validate_batch(batch: pa.Table, model: type[DataFrameModel], table_name: str) -> None:
    """Raise `ValidationFailed` naming each failed check, its column and sample values, and
    `ModelError` when Pandera cannot build the model or run it on the batch."""
    schema = model_schema(model)
    _raise_failures(model, table_name, _run(model, batch, schema))


class ChunkedValidation:
    """Validates a batch that arrives in chunks (runtime/chunking.py): what the model checks
    row by row on each chunk as it comes, what needs whole columns once at the end, on those
    columns of every chunk; `finish` raises like `validate_batch`, each failed check on one
    line with its rows counted over all chunks (the values shown are the first ones found).

    Row by row: Pandera's built-in comparisons, `isin`/`notin` and string checks, checks
    declared `element_wise=True`, nullability, and the ints beyond the model's narrower int
    dtype. Whole columns: `unique=True`, the groups of `Config.unique`, `unique_values_eq`,
    and a model's own vectorized checks (`@pa.check` without `element_wise`), whose function
    may use the whole column, and its order: the gathered rows are put back in the order the
    run delivered them (`add`'s `delivered`), the order of the batch a load in memory
    validates, so a check such as `s.diff() >= 0` decides the same either way. Uniqueness
    that the batch's unique key already guarantees (each key is once in a deduplicated batch)
    is not checked again: `unique=True` on the only key column, a `Config.unique` group
    holding every key column. A model with frame-wide checks
    (`@pa.dataframe_check`), parsers or checks grouped by another column is validated on the
    whole batch, gathered from the chunks: its memory follows the batch's size.
    """

    def __init__(
        self, model: type[DataFrameModel], table_name: str, unique_key: Sequence[str]
    ) -> None:
        self.model = model
        self.table_name = table_name
        schema = model_schema(model)
        self.row_schema: Any | None
        self.whole_schema: Any | None
        self.whole_columns: list[str] | None  # None: every column
        if _needs_whole_batch(schema):
            self.row_schema, self.whole_schema, self.whole_columns = None, schema, None
        else:
            self.row_schema, self.whole_schema, self.whole_columns = _split(schema, unique_key)
        self._found: dict[tuple[str, str], Finding] = {}
        self._gathered: list[pa.Table] = []
        self._delivered: list[np.ndarray] = []

    @property
    def failed(self) -> bool:
        """Whether a row-by-row check failed already (`finish` will raise)."""
        return bool(self._found)

    @property
    def whole_batch(self) -> bool:
        """Whether the model is validated on the whole batch (see the class docstring)."""
        return self.row_schema is None

    def add(self, chunk: pa.Table, delivered: np.ndarray) -> None:
        """Check a chunk; `delivered`: each of its rows' place in what the run delivered
        (any increasing numbers), which the whole-column checks see the rows in."""
        if self.row_schema is not None:
            _merge(self._found, _run(self.model, chunk, self.row_schema))
        if self.whole_schema is not None:
            names = self.whole_columns
            kept = (
                chunk
                if names is None
                else chunk.select([n for n in names if n in chunk.column_names])
            )
            self._gathered.append(kept)
            self._delivered.append(delivered)

    def finish(self) -> None:
        if self.whole_schema is not None and self._gathered:
            order = np.argsort(np.concatenate(self._delivered), kind="stable")
            gathered = pa.concat_tables(self._gathered).take(order)
            self._gathered, self._delivered = [], []
            found = _run(self.model, gathered, self.whole_schema, narrow_ints=self.whole_batch)
            _merge(self._found, found)
        _raise_failures(self.model, self.table_name, list(self._found.values()))


def _run(
    model: type[DataFrameModel], batch: pa.Table, schema: Any, narrow_ints: bool = True
) -> list["Finding"]:
    try:
        return _findings(batch, schema, narrow_ints)
    except Exception as error:
        raise _model_error(model, "cannot run on the batch", error) from error


def _raise_failures(model: type[DataFrameModel], table_name: str, found: list["Finding"]) -> None:
    if not found:
        return
    failures = [finding.line() for finding in found]
    raise ValidationFailed(
        f"{model.__name__} rejected the batch for {table_name}; nothing was written.\n"
        + "\n".join(failures),
        metadata={
            "model": model.__name__,
            "failed_checks": len(failures),
            "failures": "\n".join(failures),
        },
    ) from None


@dataclass
class Finding:
    """One failed check as the refusal shows it: `label: check failed for N row(s): v1, v2`
    (`rows` None: a check without rows, such as a missing column)."""

    label: str
    check: str
    rows: int | None
    samples: list[str]

    def line(self) -> str:
        values = ", ".join(self.samples)
        if self.rows:
            return f"{self.label}: {self.check} failed for {self.rows} row(s): {values}"
        if self.samples:
            return f"{self.label}: {self.check} failed: {values}"
        return f"{self.label}: {self.check} failed"


def _merge(found: dict[tuple[str, str], Finding], more: list[Finding]) -> None:
    """Add a chunk's findings: rows add up, the first values found are shown."""
    for finding in more:
        have = found.get((finding.label, finding.check))
        if have is None:
            found[(finding.label, finding.check)] = Finding(
                finding.label, finding.check, finding.rows, list(finding.samples)
            )
            continue
        if finding.rows is not None:
            have.rows = (have.rows or 0) + finding.rows
        for sample in finding.samples:
            if len(have.samples) >= SAMPLE_SIZE:
                break
            if have.rows is None and sample in have.samples:
                continue  # a check without rows reports the same case for every chunk
            have.samples.append(sample)


# Pandera's built-in checks that decide each value on its own (`unique_values_eq` needs the
# whole column); the same names in its pandas and polars backends.
ROW_WISE_CHECKS = frozenset(
    {"equal_to", "not_equal_to", "greater_than", "greater_than_or_equal_to", "less_than",
     "less_than_or_equal_to", "in_range", "isin", "notin", "str_matches", "str_contains",
     "str_startswith", "str_endswith", "str_length"}
)  # fmt: skip


def _row_wise(check: Check) -> bool:
    if check.groupby is not None:
        return False
    if check.element_wise:
        return True
    return isinstance(check._check_fn, Dispatcher) and check.name in ROW_WISE_CHECKS


def _needs_whole_batch(schema: Any) -> bool:
    """Frame-wide checks, parsers (which may rewrite a column from the others) and checks
    grouped by another column see more than a chunk's rows of one column."""
    if schema.checks or schema.parsers:
        return True
    return any(
        column.parsers or any(check.groupby is not None for check in column.checks)
        for column in schema.columns.values()
    )


def _unique_groups(schema: Any) -> list[list[str]]:
    unique = schema.unique
    if not unique:
        return []
    return (
        [list(unique)]
        if all(isinstance(name, str) for name in unique)
        else [list(g) for g in unique]
    )


def _split(schema: Any, unique_key: Sequence[str]) -> tuple[Any, Any | None, list[str]]:
    """The schema's row-by-row part, the part that needs whole columns (None: nothing), and
    the columns the latter reads."""
    key = set(unique_key)
    row_updates: dict[str, dict[str, Any]] = {}
    whole_updates: dict[str, dict[str, Any]] = {}
    for name, column in schema.columns.items():
        whole_checks = [check for check in column.checks if not _row_wise(check)]
        unique = bool(column.unique) and key != {name}
        row_updates[name] = {
            "checks": [check for check in column.checks if _row_wise(check)],
            "unique": False,
        }
        if whole_checks or unique:
            whole_updates[name] = {"checks": whole_checks, "unique": unique, "nullable": True}
    groups = [group for group in _unique_groups(schema) if not key <= set(group)]
    for group in groups:
        for name in group:
            if name in schema.columns and name not in whole_updates:
                whole_updates[name] = {"checks": [], "unique": False, "nullable": True}
    row_schema = copy.deepcopy(schema)
    row_schema.unique = None
    row_schema = row_schema.update_columns(row_updates)
    if not whole_updates:
        return row_schema, None, []
    whole_schema = copy.deepcopy(schema)
    whole_schema.unique = groups or None
    whole_schema.strict = False
    whole_schema.ordered = False
    whole_schema = whole_schema.remove_columns(
        [name for name in schema.columns if name not in whole_updates]
    )
    whole_schema = whole_schema.update_columns(whole_updates)
    return row_schema, whole_schema, list(whole_updates)


def model_schema(model: type[DataFrameModel]) -> Any:
    """The model's Pandera schema; `ModelError` when Pandera cannot build it (a check on a
    field the model does not have, an annotation Pandera does not support, ...).

    Raised, like every error of this module, as a failure that is not retried: the model and
    the batch are in memory, so Pandera would fail the same way on every attempt.
    """
    try:
        return model.to_schema()
    except Exception as error:
        raise _model_error(model, "cannot be built", error) from error


def _model_error(model: type[DataFrameModel], what: str, error: Exception) -> ModelError:
    if isinstance(error, MemoryError):  # the machine's limit, not the model's
        raise error
    reason = f"{type(error).__name__}: {error}"
    return ModelError(
        f"The Pandera model {model.__module__}.{model.__qualname__} {what}; nothing was "
        f"written.\n{reason}",
        metadata={"model": model.__name__, "reason": reason},
    )


def _findings(batch: pa.Table, schema: Any, narrow_ints: bool = True) -> list[Finding]:
    """Each failed check of `schema` on the batch; with `narrow_ints`, also the ints beyond
    the model's narrower int dtypes."""
    batch = batch.select(
        [
            name
            for name in batch.column_names
            if name not in METADATA_COLUMN_NAMES or name in schema.columns
        ]
    )
    polars_model = _is_polars(schema)
    batch = _as_the_model_declares(batch, schema)
    out_of_range = _out_of_range(batch, schema) if narrow_ints else []
    schema = _checks_only(schema, batch.schema, polars_model)
    frame = _frame(batch, polars_model)
    try:
        schema.validate(frame, lazy=True)
        failures: list[Finding] = []
    except pandera.errors.SchemaErrors as errors:
        failures = _describe(errors, schema, frame, batch)
    return [*out_of_range, *failures]


def _as_the_model_declares(batch: pa.Table, schema: Any) -> pa.Table:
    """The batch with timestamps zoned as the model's columns are: a plain `datetime` field is
    a naive datetime to Pandera (its checks compare with naive bounds such as
    `ge=datetime(2020, 1, 1)`), while the table holds it as UTC (as phlo's decorator did): such a
    column is shown to the checks as its UTC wall time, without zone."""
    columns = []
    for arrow_field in batch.schema:
        column = batch.column(arrow_field.name)
        declared = schema.columns.get(arrow_field.name)
        if (
            declared is not None
            and pa.types.is_timestamp(arrow_field.type)
            and arrow_field.type.tz is not None
            and _naive_datetime(str(declared.dtype))
        ):
            column = column.cast(pa.timestamp(arrow_field.type.unit))
        columns.append(column)
    return pa.Table.from_arrays(columns, names=batch.column_names)


def _naive_datetime(dtype: str) -> bool:
    """Whether a Pandera dtype is a datetime without zone: pandas' `datetime64[ns]`, polars'
    `Datetime(time_unit='us', time_zone=None)`."""
    if dtype.startswith("datetime64["):
        return "," not in dtype
    return dtype.startswith("Datetime(") and "time_zone=None" in dtype


def _out_of_range(batch: pa.Table, schema: Any) -> list[Finding]:
    """Findings for ints beyond the model's own integer dtype (`pa.Int8`, `pl.UInt32`): the
    table's int or long column holds more than the model declares, and Pandera's dtype check
    is not run (see `_checks_only`)."""
    lines = []
    for name, column in schema.columns.items():
        dtype = str(column.dtype).lower()
        if name not in batch.column_names or dtype not in _NARROW_INTS:
            continue
        low, high = _NARROW_INTS[dtype]
        values = batch.column(name)
        outside = pc.or_(pc.less(values, low), pc.greater(values, high))
        rows = pc.indices_nonzero(pc.fill_null(outside, False)).to_pylist()
        if rows:
            shown = [_show(values[row].as_py()) for row in rows[:SAMPLE_SIZE]]
            lines.append(Finding(name, f"dtype('{dtype}')", len(rows), shown))
    return lines


_NARROW_INTS = {
    name: (int(np.iinfo(name).min), int(np.iinfo(name).max))
    for name in ("int8", "int16", "int32", "uint8", "uint16", "uint32", "uint64")
}


def _is_polars(schema: Any) -> bool:
    return type(schema).__module__.startswith("pandera.api.polars")


def _checks_only(schema: Any, arrow_schema: pa.Schema, polars_model: bool) -> Any:
    """The schema with its column dtypes unset, keeping every check.

    The batch has already been cast to the generated Iceberg schema, which the compiler derived
    from this same model, so types are enforced. Pandera's dtype checks would disagree with the
    conversion of correct Arrow data anyway: a `datetime` field expects naive datetime64[ns]
    where the table holds UTC microseconds, an `int` field numpy int64 where the frame holds
    Arrow-backed ints.
    """
    updates: dict[str, dict[str, Any]] = {name: {"dtype": None} for name in schema.columns}
    if polars_model:
        for name, column in schema.columns.items():
            if name in arrow_schema.names and pa.types.is_floating(arrow_schema.field(name).type):
                updates[name].update(_polars_nan_as_value(column))
    return schema.update_columns(updates)


def _polars_nan_as_value(column: Any) -> dict[str, Any]:
    """Column properties that make Pandera's polars backend treat NaN as pandas' Arrow-backed
    columns do: not a null, and failing `gt`/`ge` (polars orders NaN above +inf)."""
    checks = [_rejecting_nan(check) for check in column.checks]
    if column.nullable:
        return {"checks": checks}
    null_free = Check(_polars_not_null, name=NOT_NULLABLE, ignore_na=False)
    return {"nullable": True, "checks": [null_free, *checks]}


def _rejecting_nan(check: Check) -> Check:
    compare = {"greater_than": "gt", "greater_than_or_equal_to": "ge"}.get(check.name or "")
    if compare is None:
        return check
    assert check.statistics is not None  # a built-in comparison keeps its bound there
    return Check(
        functools.partial(_polars_compare, compare=compare, bound=check.statistics["min_value"]),
        ignore_na=check.ignore_na,
        name=check.name,
        error=check.error,
        raise_warning=check.raise_warning,
        n_failure_cases=check.n_failure_cases,
        title=check.title,
        description=check.description,
        statistics=check.statistics,
    )


def _polars_compare(data: Any, *, compare: str, bound: object) -> Any:
    import polars  # only models written for polars need it

    column = polars.col(data.key)
    # A null stays null (true & null, false & null), which `ignore_na` lets pass.
    return data.lazyframe.select(getattr(column, compare)(bound) & column.is_not_nan())


def _polars_not_null(data: Any) -> Any:
    import polars

    return data.lazyframe.select(polars.col(data.key).is_not_null())


def _frame(batch: pa.Table, polars_model: bool) -> Any:
    """The batch as the DataFrame library the model is written for."""
    if polars_model:
        import polars

        return polars.from_arrow(batch)
    return batch.to_pandas(types_mapper=_arrow_backed)


def _arrow_backed(arrow_type: pa.DataType) -> pd.ArrowDtype | None:
    """Floats and ints stay Arrow in pandas: NaN apart from null, every int64 exact."""
    if pa.types.is_floating(arrow_type) or pa.types.is_integer(arrow_type):
        return pd.ArrowDtype(arrow_type)
    return None


@dataclass
class _Failure:
    """One failed check: where it failed and what Pandera reported."""

    label: str  # the column, the columns of a model-wide check, or the model
    check: str
    columns: tuple[str, ...]  # the batch columns whose values the line shows
    rows: list[int] = field(default_factory=list)
    cases: list[Mapping[str, Any]] = field(default_factory=list)

    def finding(self, batch: pa.Table) -> Finding:
        if self.rows:
            values = [_show(self._value(batch, row)) for row in self.rows[:SAMPLE_SIZE]]
            return Finding(self.label, self.check, len(self.rows), values)
        values = [_show(case["failure_case"]) for case in self.cases[:SAMPLE_SIZE]]
        return Finding(self.label, self.check, None, values)

    def _value(self, batch: pa.Table, row: int) -> object:
        """The failing value as the batch holds it: polars reports every failure case as
        text, and Pandera's pandas backend drops null failure cases."""
        if self.columns:
            values = tuple(batch.column(name)[row].as_py() for name in self.columns)
            return values[0] if len(values) == 1 else values
        return next((case["failure_case"] for case in self.cases if case["index"] == row), None)


def _describe(
    errors: pandera.errors.SchemaErrors, schema: Any, frame: Any, batch: pa.Table
) -> list[Finding]:
    """One line per failed check: `column: check failed for N row(s): v1, v2`.

    Checks on the whole frame (a missing column, say) have no rows; their line lists what
    failed instead. A uniqueness check lists the rows Pandera's own call finds (see the module
    docstring); a check whose failure cases Pandera dropped altogether still gets its line.
    """
    failures: dict[tuple[str, str], _Failure] = {}
    for case in _records(errors.failure_cases):
        label, check = str(case["column"]), str(case["check"])
        if check == MODEL_UNIQUENESS:
            continue  # one line for the model, below, not one per column (pandas) or the model
        columns = (label,) if label in batch.column_names else ()
        failure = failures.setdefault((label, check), _Failure(label, check, columns))
        failure.cases.append(case)
        if not _missing(case["index"]):
            failure.rows.append(int(case["index"]))
    model_wide = []
    for error in errors.schema_errors:
        check = _check_name(error.check)
        if check == COLUMN_UNIQUENESS and error.column_name in batch.column_names:
            name = error.column_name
            rows = _duplicated(frame, [name], schema.columns[name].report_duplicates)
            failures[(name, check)] = _Failure(name, check, (name,), rows)
        elif check == MODEL_UNIQUENESS:
            # Pandera stops at the first group of `Config.unique` with duplicates.
            subset = _duplicated_subset(frame, schema.unique)
            rows = _duplicated(frame, subset, schema.report_duplicates) if subset else []
            label = ", ".join(subset) or str(schema.name)
            model_wide.append(_Failure(label, check, tuple(subset), rows))
        elif not _listed(failures, error.column_name, check):
            label = str(error.column_name or schema.name)
            columns = (label,) if label in batch.column_names else ()
            failures[(label, check)] = _Failure(label, check, columns)
    return [failure.finding(batch) for failure in [*model_wide, *failures.values()]]


def _listed(failures: Mapping[tuple[str, str], _Failure], column: str | None, check: str) -> bool:
    """Whether a failed check has a line already: a column's check under its column, a check
    on the whole frame under any (pandas lists its failure cases per column)."""
    if column is not None:
        return (column, check) in failures
    return any(failure.check == check for failure in failures.values())


def _duplicated_subset(frame: Any, unique: Sequence[Any] | None) -> list[str]:
    """The columns of the model's `Config.unique` that Pandera reports: the first group (of the
    frame's columns) with duplicates, as both of Pandera's backends choose it."""
    if not unique:
        return []
    groups = [list(unique)] if all(isinstance(name, str) for name in unique) else unique
    for group in groups:
        subset = [name for name in group if name in frame.columns]
        if subset and _duplicated(frame, subset, "all"):
            return subset
    return []


def _duplicated(frame: Any, subset: list[str], report_duplicates: str) -> list[int]:
    """Rows whose values in `subset` repeat another row's, nulls equal to nulls."""
    if isinstance(frame, pd.DataFrame):
        duplicated = frame.duplicated(subset=subset, keep=KEEP[report_duplicates])
        return [int(row) for row in duplicated.to_numpy().nonzero()[0]]
    return [int(row) for row in frame.select(subset).is_duplicated().arg_true()]


def _check_name(check: object) -> str:
    """The check as Pandera's failure cases name it."""
    if check is None or isinstance(check, str):
        return str(check)
    return str(getattr(check, "error", None) or getattr(check, "name", None) or check)


def _records(failure_cases: Any) -> list[Mapping[str, Any]]:
    """Pandera's failure cases (a pandas or a polars DataFrame) as plain rows."""
    if hasattr(failure_cases, "to_dicts"):
        return failure_cases.to_dicts()
    return failure_cases.to_dict("records")


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)
