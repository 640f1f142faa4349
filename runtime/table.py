"""Create the Iceberg table if it is missing, and make sure it is the table the code expects.

The generated schema carries the field ids the table has, or gets when it is created or evolved
here, so that generated code, the table and every reader agree on what each id means. Any
disagreement stops the load before data is written.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionSpec
from pyiceberg.schema import Schema, index_by_id, index_by_name
from pyiceberg.table import Table, Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.types import IcebergType, PrimitiveType

from cascade.runtime import field_ids
from cascade.runtime.errors import TableMismatchError


@dataclass(frozen=True)
class PreparedTable:
    table: Table
    created: bool
    added_columns: tuple[str, ...]


def prepare_table(
    catalog: Catalog,
    identifier: str,
    schema: Schema,
    partition_spec: PartitionSpec,
    *,
    retired_field_ids: Mapping[int, str] | None = None,
    last_column_id: int | None = None,
    last_partition_id: int | None = None,
) -> PreparedTable:
    """Load or create the table; add optional fields the generated schema gained.

    A new table gets exactly the generated ids, and `last_column_id`/`last_partition_id` (the
    generated LAST_COLUMN_ID/LAST_PARTITION_ID) at least, so that later additions get the ids
    the compiler will give them. Anything else that differs (ids, types, required flags,
    partitioning, removed or required new fields) raises `TableMismatchError` listing every
    difference.
    """
    retired = retired_field_ids or {}
    namespace = tuple(identifier.split("."))[:-1]
    catalog.create_namespace_if_not_exists(namespace)
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        try:
            table = _create(
                catalog, identifier, schema, partition_spec, last_column_id, last_partition_id
            )
        except (TableAlreadyExistsError, CommitFailedException):
            # Another partition of a backfill created it a moment ago.
            if not catalog.table_exists(identifier):
                raise
            table = catalog.load_table(identifier)
        else:
            return PreparedTable(table, created=True, added_columns=())

    # Evolve in a transaction so that the result can be checked before it is committed. The
    # commit is separate from the merge's: adding optional columns changes no data, and the
    # generated code that declares them needs them on every later run anyway.
    transaction = table.transaction()
    added, changed, problems = _evolve(transaction, table, schema, identifier)
    check_table(transaction.table_metadata, identifier, schema, partition_spec, retired, problems)
    if changed:
        transaction.commit_transaction()
    return PreparedTable(table, created=False, added_columns=added)


def check_table(
    metadata: TableMetadata,
    identifier: str,
    schema: Schema,
    partition_spec: PartitionSpec,
    retired_field_ids: Mapping[int, str] | None = None,
    problems: tuple[str, ...] = (),
) -> None:
    problems += tuple(_schema_differences(metadata.schema(), schema, retired_field_ids or {}))
    problems += tuple(_spec_differences(metadata.spec(), partition_spec))
    if problems:
        raise TableMismatchError(
            f"Table {identifier} does not match its generated schema:\n  "
            + "\n  ".join(problems)
            + "\nThe generated schema module must carry the table's field ids: check that it is "
            "up to date (`cascade check`) and that the table was created from it."
        )


def _create(
    catalog: Catalog,
    identifier: str,
    schema: Schema,
    partition_spec: PartitionSpec,
    last_column_id: int | None,
    last_partition_id: int | None,
) -> Table:
    """Create the table with the generated ids in one commit (see `field_ids`)."""
    try:
        initial, layout = field_ids.initial_schema(schema, last_column_id or 0)
        spec = field_ids.initial_spec(partition_spec, last_partition_id or 0, initial)
        transaction = catalog.create_table_transaction(
            identifier,
            schema=initial,
            partition_spec=spec[0] if spec else UNPARTITIONED_PARTITION_SPEC,
            properties={"format-version": "2"},
        )
        if spec:
            field_ids.remove_spec_placeholders(transaction, spec[1])
        field_ids.steer(transaction, schema, layout, creating=True)
        if not spec:
            field_ids.add_spec(transaction, partition_spec)
    except field_ids.Unplaceable as error:
        raise TableMismatchError(
            f"Cannot create table {identifier} with the generated field ids: {error}. pyiceberg "
            "numbers a new table level by level and each added column right before its nested "
            "fields; the generated ids follow neither."
        ) from None
    check_table(transaction.table_metadata, identifier, schema, partition_spec)
    transaction.commit_transaction()
    # What the commit returns is the staged table, which cannot be scanned or written.
    return catalog.load_table(identifier)


def _evolve(
    transaction: Transaction, table: Table, schema: Schema, identifier: str
) -> tuple[tuple[str, ...], bool, tuple[str, ...]]:
    """Add the generated fields the table lacks and order fields like the generated schema.

    Returns the added fields, whether anything changed, and why the generated ids cannot be
    given if they cannot. Fields are matched by name: a field whose id differs is left for
    the check to report.
    """
    live_names = index_by_name(table.schema())
    names = {field_id: name for name, field_id in index_by_name(schema).items()}
    existing = {field_id for field_id, name in names.items() if name in live_names}
    # Fields added to the table or to a struct it has; their own nested fields come with them.
    new = [
        slot
        for field_id, slot in field_ids.slots(schema)
        if field_id not in existing
        and slot.nested is not None
        and (slot.parent_id == field_ids.ROOT or slot.parent_id in existing)
    ]
    if required := [".".join(slot.path) for slot in new if slot.nested.required]:
        raise TableMismatchError(
            f"The generated schema adds required column(s) {', '.join(required)} to existing "
            f"table {identifier}, whose rows have no value for them. Add them as optional "
            "(`| None` in the model)."
        )
    layout = field_ids.Layout(
        next_id=table.metadata.last_column_id + 1,
        wanted=set(names),
        # Gaps above the table's last id are burnt only up to the last new field: the rest
        # waits for the generation that adds something after them.
        last_id=max((field_id for field_id in names if field_id not in existing), default=0),
        placed=existing,
    )
    try:
        changed = field_ids.steer(transaction, schema, layout, creating=False)
    except field_ids.Unplaceable as error:
        return (), False, (f"cannot add the new fields with the generated ids: {error}",)
    return tuple(".".join(slot.path) for slot in new), changed, ()


def _schema_differences(
    live: Schema, generated: Schema, retired_field_ids: Mapping[int, str]
) -> list[str]:
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
        f"{name}: id {live_id} in the table, "
        + ("retired" if live_id in retired_field_ids else "not")
        + " in the generated schema"
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
