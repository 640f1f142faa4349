"""Create the Iceberg table if it is missing, and make sure it is the table the code expects.

The generated schema carries the field ids the table has (or will get when pyiceberg's
`create_table` renumbers the schema), so that generated code, the table and every reader agree
on what each id means. Any disagreement stops the load before data is written.
"""

from dataclasses import dataclass

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError, TableAlreadyExistsError
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema, index_by_id, index_by_name
from pyiceberg.table import Table, Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.types import IcebergType, PrimitiveType

from cascade.runtime.errors import TableMismatchError


@dataclass(frozen=True)
class PreparedTable:
    table: Table
    created: bool
    added_columns: tuple[str, ...]


def prepare_table(
    catalog: Catalog, identifier: str, schema: Schema, partition_spec: PartitionSpec
) -> PreparedTable:
    """Load or create the table; add optional columns the generated schema gained.

    Anything else that differs (ids, types, required flags, partitioning, removed or required
    new columns) raises `TableMismatchError` listing every difference.
    """
    namespace = tuple(identifier.split("."))[:-1]
    catalog.create_namespace_if_not_exists(namespace)
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        try:
            table = catalog.create_table(
                identifier,
                schema=schema,
                partition_spec=partition_spec,
                properties={"format-version": "2"},
            )
        except TableAlreadyExistsError:
            # Another partition of a backfill created it a moment ago.
            table = catalog.load_table(identifier)
        else:
            check_table(table.metadata, identifier, schema, partition_spec)
            return PreparedTable(table, created=True, added_columns=())

    # Evolve in a transaction so that the result can be checked before it is committed. The
    # commit is separate from the merge's: adding optional columns changes no data, and the
    # generated code that declares them needs them on every later run anyway.
    transaction = table.transaction()
    added = _add_optional_columns(transaction, table.schema(), schema, identifier)
    check_table(transaction.table_metadata, identifier, schema, partition_spec)
    if added:
        transaction.commit_transaction()
    return PreparedTable(table, created=False, added_columns=added)


def check_table(
    metadata: TableMetadata, identifier: str, schema: Schema, partition_spec: PartitionSpec
) -> None:
    problems = _schema_differences(metadata.schema(), schema) + _spec_differences(
        metadata.spec(), partition_spec
    )
    if problems:
        raise TableMismatchError(
            f"Table {identifier} does not match its generated schema:\n  "
            + "\n  ".join(problems)
            + "\nThe generated schema module must carry the table's field ids: check that it is "
            "up to date (`cascade check`) and that the table was created from it."
        )


def _add_optional_columns(
    transaction: Transaction, live: Schema, generated: Schema, identifier: str
) -> tuple[str, ...]:
    live_names = {field.name for field in live.fields}
    new = [field for field in generated.fields if field.name not in live_names]
    if required := [field.name for field in new if field.required]:
        raise TableMismatchError(
            f"The generated schema adds required column(s) {', '.join(required)} to existing "
            f"table {identifier}, whose rows have no value for them. Add them as optional "
            "(`| None` in the model)."
        )
    if new:
        # pyiceberg gives each added column the next free id, which the compiler reserved for it.
        with transaction.update_schema() as update:
            for field in new:
                update.add_column(field.name, field.field_type, doc=field.doc)
    return tuple(field.name for field in new)


def _schema_differences(live: Schema, generated: Schema) -> list[str]:
    live_ids, generated_ids = index_by_name(live), index_by_name(generated)
    live_fields, generated_fields = index_by_id(live), index_by_id(generated)
    problems = []
    for name, generated_id in generated_ids.items():
        live_id = live_ids.get(name)
        if live_id is None:
            problems.append(f"{name}: generated with id {generated_id}, not in the table")
            continue
        if live_id != generated_id:
            problems.append(f"{name}: id {live_id} in the table, {generated_id} generated")
        have, want = live_fields[live_id], generated_fields[generated_id]
        if _kind(have.field_type) != _kind(want.field_type):
            problems.append(f"{name}: {have.field_type} in the table, {want.field_type} generated")
        if have.required != want.required:
            problems.append(
                f"{name}: {_required(have.required)} in the table, "
                f"{_required(want.required)} generated"
            )
    problems.extend(
        f"{name}: id {live_id} in the table, not in the generated schema"
        for name, live_id in live_ids.items()
        if name not in generated_ids
    )
    return problems


def _spec_differences(live: PartitionSpec, generated: PartitionSpec) -> list[str]:
    have, want = _partition_fields(live), _partition_fields(generated)
    if have == want:
        return []
    have_text, want_text = ", ".join(have) or "none", ", ".join(want) or "none"
    return [f"partitioning: {have_text} in the table, {want_text} generated"]


def _partition_fields(spec: PartitionSpec) -> list[str]:
    return [
        f"{field.name}={field.transform}(source {field.source_id}, id {field.field_id})"
        for field in spec.fields
    ]


def _kind(field_type: IcebergType) -> object:
    """What to compare: primitives by value, nested types by kind (their children are compared
    by name on their own)."""
    return field_type if isinstance(field_type, PrimitiveType) else type(field_type)


def _required(required: bool) -> str:
    return "required" if required else "optional"
