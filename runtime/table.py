"""Create the Iceberg table if it is missing, and make sure it is the table the code expects.

The generated schema carries the field ids the table has, or gets when it is created or evolved
here, so that generated code, the table and every reader agree on what each id means. Any
disagreement stops the load before data is written.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.expressions import IsNull
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionSpec
from pyiceberg.schema import Schema, index_by_id, index_by_name
from pyiceberg.table import Table, Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.types import IcebergType, NestedField, PrimitiveType

from cascade.runtime import field_ids
from cascade.runtime.contract import METADATA_COLUMN_NAMES, TableContract
from cascade.runtime.errors import TableMismatchError
from cascade.runtime.evolution import Change, TableShape, classify
from cascade.runtime.schema_slots import ROOT, index_slots

# Set on the tables Cascade creates (and adopts): their ids are the generated ones.
MANAGED_PROPERTY = "cascade.managed"


@dataclass(frozen=True)
class PreparedTable:
    table: Table
    created: bool
    changes: tuple[Change, ...] = ()  # what evolving the existing table applied


def prepare_table(catalog: Catalog, contract: TableContract) -> PreparedTable:
    """Load or create the table `contract` declares; evolve it to the contract when that is
    safe. Raises `TableMismatchError` (nothing changed) when it cannot.

    A new table gets exactly the generated ids, reserves ids up to the contract's
    `last_column_id`/`last_partition_id` (so that later additions get the ids the compiler will
    give them), and the unique key as its identifier fields. An existing table is evolved by
    field id (`_evolve`): safe changes are applied, breaking ones refused unless the contract's
    `allowed_breaking` lists them and Iceberg can apply them. The result is checked against the
    contract before it is committed.
    """
    identifier, allowed = contract.identifier, contract.allowed_breaking
    catalog.create_namespace_if_not_exists(contract.namespace)
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        try:
            table = _create(catalog, contract)
        except (TableAlreadyExistsError, CommitFailedException):
            # Another partition of a backfill created it a moment ago.
            if not catalog.table_exists(identifier):
                raise
            table = catalog.load_table(identifier)
        else:
            return PreparedTable(table, created=True)

    # Evolve in a transaction so that the result can be checked before it is committed. The
    # commit is separate from the merge's: adding optional columns changes no data, and the
    # generated code that declares them needs them on every later run anyway.
    transaction = table.transaction()
    if foreign := foreign_ids(table, contract.schema):
        raise TableMismatchError(
            f"Table {identifier} was not created by Cascade, and its field ids differ from the "
            "generated ones:\n  "
            + "\n  ".join(foreign)
            + f"\nRun `cascade adopt {identifier}` so that the next `cascade gen` generates the "
            "table's own ids; nothing was changed."
        )
    changes, refused = plan_evolution(table, contract, allowed)
    if refused:
        raise refusal(identifier, refused, allowed, adoptable=adoption_helps(table, refused))
    changed, problems = _evolve(transaction, table, contract, changes)
    check_table(transaction.table_metadata, contract, problems)
    if changed:
        transaction.commit_transaction()
    return PreparedTable(table, created=False, changes=tuple(changes))


def check_table(
    metadata: TableMetadata, contract: TableContract, problems: tuple[str, ...] = ()
) -> None:
    """Raises `TableMismatchError` listing every difference between the table's current
    schema and spec and the contract's (ids, types, required flags, identifier fields)."""
    problems += tuple(
        _schema_differences(metadata.schema(), contract.schema, contract.retired_field_ids)
    )
    problems += tuple(_identifier_differences(metadata.schema(), contract))
    problems += tuple(_spec_differences(metadata.spec(), contract.partition_spec))
    if problems:
        raise TableMismatchError(
            f"Table {contract.identifier} does not match its generated schema:\n  "
            + "\n  ".join(problems)
            + "\nThe generated schema module must carry the table's field ids: check that it is "
            "up to date (`cascade check`) and that the table was created from it."
        )


def _create(catalog: Catalog, contract: TableContract) -> Table:
    """Create the table with the generated ids in one commit (see `field_ids`)."""
    identifier, schema = contract.identifier, contract.schema
    partition_spec = contract.partition_spec
    try:
        initial, layout = field_ids.initial_schema(schema, contract.last_column_id or 0)
        spec = field_ids.initial_spec(partition_spec, contract.last_partition_id or 0, initial)
        transaction = catalog.create_table_transaction(
            identifier,
            schema=initial,
            partition_spec=spec[0] if spec else UNPARTITIONED_PARTITION_SPEC,
            properties={"format-version": "2", MANAGED_PROPERTY: "true"},
        )
        if spec:
            field_ids.remove_spec_placeholders(transaction, spec[1])
        field_ids.steer(transaction, schema, layout, creating=True)
        if not spec:
            field_ids.add_spec(transaction, partition_spec)
        _set_identifier_fields(transaction, contract)
    except field_ids.Unplaceable as error:
        raise TableMismatchError(
            f"Cannot create table {identifier} with the generated field ids: {error}. pyiceberg "
            "numbers a new table level by level and each added column right before its nested "
            "fields; the generated ids follow neither."
        ) from None
    check_table(transaction.table_metadata, contract)
    transaction.commit_transaction()
    # What the commit returns is the staged table, which cannot be scanned or written.
    return catalog.load_table(identifier)


def _set_identifier_fields(transaction: Transaction, contract: TableContract) -> None:
    """Record the unique key as the table's identifier fields (`identifier-field-ids`), where
    Spark, Flink, Trino and pyiceberg's `Table.upsert` look for the key."""
    with transaction.update_schema() as update:
        update.set_identifier_fields(*contract.unique_key)


def plan_evolution(
    table: Table, contract: TableContract, allowed_breaking: Collection[str] = ()
) -> tuple[list[Change], list[Change]]:
    """The changes a load would make to `table`, and those it refuses. The live table's
    identifier fields are its unique key: other ones are a changed key (CAS206), none at all
    (a table made before Cascade recorded them, or adopted) are set (CAS109)."""
    schema = table.schema()
    live = TableShape(
        schema,
        table.spec(),
        unique_key=tuple(sorted(schema.identifier_field_names())),
        format_version=table.format_version,
        has_rows=_has_rows(table),
    )
    changes = classify(live, TableShape.of(contract))
    if not live.unique_key and contract.unique_key:
        key = ", ".join(contract.unique_key)
        changes.append(Change("CAS109", "unique_key", f"identifier fields set to {key}"))
    refused = []
    for index, change in enumerate(changes):
        if not change.breaking:
            continue
        if change.allowance not in allowed_breaking or not change.rule.allowable:
            refused.append(change)
        elif change.code == "CAS203" and (nulls := _null_count(table, change.field_id)):
            # Allowed or not, a column that holds nulls is not required: a table that says so
            # would be read wrongly by engines that trust it (Spark drops IS NULL filters).
            changes[index] = replace(
                change,
                reason=f"{change.subject} becomes required, but {nulls} row(s) hold nulls: "
                "fill them first, or keep it optional",
            )
            refused.append(changes[index])
    return changes, refused


def _null_count(table: Table, field_id: int | None) -> int:
    """Nulls in a column, on main and on every branch; the scans skip the files whose
    statistics show no nulls."""
    name = _column_name(table.schema(), field_id)
    snapshots = {ref.snapshot_id for ref in table.metadata.refs.values()}
    # pyiceberg's IsNull takes the term positionally; its pydantic signature says keywords.
    null = IsNull(name)  # type: ignore[call-arg, arg-type]
    return sum(
        table.scan(row_filter=null, selected_fields=(name,), snapshot_id=snapshot)
        .to_arrow()
        .num_rows
        for snapshot in sorted(snapshots)
    )


def refusal(
    identifier: str,
    refused: list[Change],
    allowed_breaking: Collection[str] = (),
    adoptable: bool = False,
) -> TableMismatchError:
    """The error for breaking changes a load may not make; `adoptable`: the table was made
    elsewhere, where `cascade adopt` (a schema that fits the table) is the usual way out."""
    lines = [
        f"{c.code} {c.rule.name}: {c.reason}" + (f" ({c.rule.hint})" if c.rule.hint else "")
        for c in refused
    ]
    allowances = tuple(
        c.allowance for c in refused if c.rule.allowable and c.allowance not in allowed_breaking
    )
    hint = (
        f" To accept the loss, add allow_breaking={allowances!r} to the ingestion's decorator."
        if allowances
        else ""
    )
    if adoptable:
        hint += (
            f" The table was not created by Cascade: `cascade adopt {identifier}` generates a "
            "schema that fits it."
        )
    return TableMismatchError(
        f"Table {identifier} cannot be evolved to the generated schema; nothing was changed. "
        "Breaking change(s):\n  "
        + "\n  ".join(lines)
        + f"\nSee every change with `cascade plan`.{hint}"
    )


def _evolve(
    transaction: Transaction, table: Table, contract: TableContract, changes: list[Change]
) -> tuple[bool, tuple[str, ...]]:
    """Evolve the table to the contract with explicit operations keyed by field id: renames,
    widened types, optional flags, descriptions, allowed drops, new fields with their
    generated ids, field order, partitioning and identifier fields.

    `changes` are the table's classified changes, none of them refused. Returns whether
    anything changed, and why the generated ids cannot be given if they cannot.
    """
    schema, partition_spec = contract.schema, contract.partition_spec
    live = table.schema()
    by_code: dict[str, list[Change]] = {}
    for change in changes:
        by_code.setdefault(change.code, []).append(change)
    generated_fields = index_by_id(schema)
    if "CAS206" in by_code:
        # The old key's columns may be dropped or renamed below: Iceberg refuses that for
        # identifier fields. The new key is set once its columns are in place.
        with transaction.update_schema() as update:
            update.set_identifier_fields()

    def live_name(change: Change) -> str:
        return _column_name(live, change.field_id)

    def wanted(change: Change) -> NestedField:
        assert change.field_id is not None, change  # changes of a field carry its id
        return generated_fields[change.field_id]

    # One update per kind, each resolved against the schema the previous one left: updates
    # and drops by the live names, before the renames that change them.
    updates = by_code.get("CAS102", []) + by_code.get("CAS104", [])
    if updates or "CAS103" in by_code or "CAS203" in by_code:
        with transaction.update_schema(allow_incompatible_changes="CAS203" in by_code) as update:
            for change in updates:
                if change.code == "CAS102":
                    update.update_column(live_name(change), field_type=wanted(change).field_type)
                else:
                    update.update_column(live_name(change), doc=wanted(change).doc)
            for change in by_code.get("CAS103", []):
                update.make_column_optional(live_name(change))
            for change in by_code.get("CAS203", []):
                update.update_column(live_name(change), required=True)
    if "CAS106" in by_code or "CAS207" in by_code:
        _evolve_partitioning(transaction, table.spec(), partition_spec)
    if "CAS201" in by_code:
        with transaction.update_schema() as update:
            for change in by_code["CAS201"]:
                update.delete_column(live_name(change))
    if "CAS105" in by_code:
        with transaction.update_schema() as update:
            for change in by_code["CAS105"]:
                update.rename_column(live_name(change), wanted(change).name)

    existing = set(index_by_id(live)) & set(generated_fields)
    # Fields added to the table or to a struct it has; their own nested fields come with them.
    new = [
        slot.field
        for field_id, slot in index_slots(schema).items()
        if field_id not in existing
        and slot.named
        and (slot.parent_id == ROOT or slot.parent_id in existing)
    ]
    layout = field_ids.Layout(
        next_id=table.metadata.last_column_id + 1,
        wanted=set(generated_fields),
        # Gaps above the table's last id are burnt only up to the last new field: the rest
        # waits for the generation that adds something after them.
        last_id=max(
            (field_id for field_id in generated_fields if field_id not in existing), default=0
        ),
        placed=existing,
    )
    try:
        # A required column reaches here only for a table without rows (the classifier
        # refuses it otherwise), where pyiceberg needs leave to add it.
        required_added = any(nested.required for nested in new)
        moved = field_ids.steer(transaction, schema, layout, creating=required_added)
    except field_ids.Unplaceable as error:
        return False, (f"cannot add the new fields with the generated ids: {error}",)
    if "CAS206" in by_code or "CAS109" in by_code:
        _set_identifier_fields(transaction, contract)
    # A table adopted (or made before Cascade marked its tables) whose ids agree with the
    # generated ones is from now on evolved by id like the tables Cascade creates.
    marked = not is_managed(table)
    if marked:
        transaction.set_properties({MANAGED_PROPERTY: "true"})
    changed = marked or moved or any(c.code not in ("CAS101", "CAS107") for c in changes)
    return changed, ()


def _column_name(schema: Schema, field_id: int | None) -> str:
    """The dotted name of a field the classifier found in `schema` (so it is there)."""
    name = schema.find_column_name(field_id) if field_id is not None else None
    assert name is not None, (field_id, schema)
    return name


def _has_rows(table: Table) -> bool:
    snapshot = table.current_snapshot()
    if snapshot is None or snapshot.summary is None:
        return snapshot is not None
    return int(snapshot.summary.get("total-records") or 1) > 0


def is_managed(table: Table) -> bool:
    """Whether Cascade created (or adopted) the table: its ids are the generated ones."""
    return table.properties.get(MANAGED_PROPERTY) == "true"


def adoption_helps(table: Table, refused: list[Change]) -> bool:
    """Whether `cascade adopt` would lift a refusal: for a table made elsewhere, with rows,
    that lacks Cascade's metadata columns, which the generated schema requires but an adopted
    one adds as optional (runtime/adopt.py). Adopting changes nothing else that is refused (a
    drop stays a drop), so it is not suggested otherwise, after an adoption in particular."""
    return not is_managed(table) and any(
        change.code == "CAS204" and change.subject in METADATA_COLUMN_NAMES for change in refused
    )


def foreign_ids(table: Table, schema: Schema) -> list[str]:
    """For a table Cascade did not create, the names whose ids differ from the generated ones.

    Field ids, not names, say what a column is; but a table made by hand or by another tool
    numbered its columns its own way, and comparing its ids with the generated ones would
    read as drops, adds and renames that nobody made.
    """
    if is_managed(table):
        return []
    live, generated = index_by_name(table.schema()), index_by_name(schema)
    return [
        f"{name}: id {live[name]} in the table, {generated[name]} generated"
        for name in sorted(set(live) & set(generated), key=lambda n: generated[n])
        if live[name] != generated[name]
    ]


def _evolve_partitioning(
    transaction: Transaction, live: PartitionSpec, generated: PartitionSpec
) -> None:
    """Repartition: files written before keep the spec they were written with."""
    names = index_by_id(transaction.table_metadata.schema())
    have = {(f.source_id, str(f.transform)): f for f in live.fields}
    want = {(f.source_id, str(f.transform)): f for f in generated.fields}
    with transaction.update_spec() as update:
        for key, field in have.items():
            if key not in want:
                update.remove_field(field.name)
            elif want[key].name != field.name:
                update.rename_field(field.name, want[key].name)
        for key, field in want.items():
            if key not in have:
                update.add_field(names[field.source_id].name, field.transform, field.name)


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


def _identifier_differences(live: Schema, contract: TableContract) -> list[str]:
    have = sorted(live.identifier_field_names())
    want = sorted(contract.unique_key)
    if have == want:
        return []
    have_text, want_text = ", ".join(have) or "none", ", ".join(want) or "none"
    return [f"identifier fields: {have_text} in the table, {want_text} generated"]


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
