"""The table contract (runtime/contract.py): what a generated schema module declares, read back
the same way by import and by the compiler's reader, and carried into the table, unique key
included as Iceberg identifier fields."""

from __future__ import annotations

import importlib

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from cascade.compiler.driver.contract_reader import NotASchemaModule, read_contract
from cascade.runtime.contract import TableContract
from cascade.runtime.errors import TableMismatchError
from cascade.runtime.table import MANAGED_PROPERTY, plan_evolution, prepare_table
from tests.helpers import REPO_ROOT

IDENTIFIER = "raw.accounts"
SCHEMA = Schema(
    NestedField(1, "tenant", StringType(), required=True),
    NestedField(2, "account_id", LongType(), required=True),
    NestedField(3, "name", StringType(), required=False),
    identifier_field_ids=[1, 2],
)
CONTRACT = TableContract(IDENTIFIER, SCHEMA, unique_key=("tenant", "account_id"))


def rows(*values: tuple[str, int, str | None]) -> pa.Table:
    return pa.Table.from_pylist(
        [dict(zip(("tenant", "account_id", "name"), v, strict=True)) for v in values],
        schema=SCHEMA.as_arrow(),
    )


@pytest.mark.parametrize(
    "path",
    sorted(
        p.relative_to(REPO_ROOT).as_posix()
        for p in (REPO_ROOT / "generated" / "schemas").rglob("*.py")
        if p.name != "__init__.py"
    ),
)
def test_the_reader_and_the_import_give_the_same_contract(path: str) -> None:
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    assert read_contract((REPO_ROOT / path).read_text(encoding="utf-8"), path) == module.TABLE
    key_ids = sorted(module.TABLE.schema.find_field(n).field_id for n in module.TABLE.unique_key)
    assert sorted(module.TABLE.schema.identifier_field_ids) == key_ids


def test_a_schema_module_of_the_constants_era_reads_into_the_same_contract() -> None:
    old = (
        "from pyiceberg.partitioning import PartitionSpec\n"
        "from pyiceberg.schema import Schema\n"
        "from pyiceberg.types import LongType, NestedField, StringType\n"
        f"IDENTIFIER = {IDENTIFIER!r}\n"
        'TABLE_NAME = "accounts"\n'
        'UNIQUE_KEY = ("tenant", "account_id")\n'
        "SCHEMA = Schema(\n"
        '    NestedField(1, "tenant", StringType(), required=True),\n'
        '    NestedField(2, "account_id", LongType(), required=True),\n'
        '    NestedField(3, "name", StringType(), required=False),\n'
        ")\n"
        "PARTITION_SPEC = PartitionSpec()\n"
        'RETIRED_FIELD_IDS = {4: "old"}\n'
        "LAST_COLUMN_ID = 4\n"
        "LAST_PARTITION_ID = 999\n"
        'ALLOWED_BREAKING = ("CAS201:old",)\n'
    )
    contract = read_contract(old)
    assert contract.identifier == IDENTIFIER and contract.unique_key == ("tenant", "account_id")
    assert contract.schema.as_struct() == SCHEMA.as_struct()
    assert contract.retired_field_ids == {4: "old"} and contract.last_column_id == 4
    assert contract.allowed_breaking == ("CAS201:old",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("import os\nTABLE = os.system('x')\n", "<m>:2:9: not a literal or pyiceberg call"),
        (
            "from cascade.runtime.contract import TableContract\nTABLE = TableContract(1)\n",
            "<m>:2:9: TableContract",
        ),
        ("TABLE = (1, 2)\n", "<m>: TABLE is not a TableContract"),
        ("TABLE = TABLE\n", "<m>:1:9: not a literal or pyiceberg call: TABLE"),
        ("x = 1\n", "<m>: no IDENTIFIER: not a generated schema module"),
    ],
)
def test_anything_else_is_no_schema_module(text: str, message: str) -> None:
    with pytest.raises(NotASchemaModule) as refused:
        read_contract(text, "<m>")
    assert str(refused.value).startswith(message)


def test_a_new_table_records_the_unique_key_as_its_identifier_fields(catalog: Catalog) -> None:
    table = prepare_table(catalog, CONTRACT).table
    assert table.schema().identifier_field_names() == {"tenant", "account_id"}
    table.append(rows(("a", 1, "one"), ("a", 2, "two")))
    # pyiceberg's upsert finds the key in the table's identifier fields: no join_cols given.
    result = catalog.load_table(IDENTIFIER).upsert(rows(("a", 2, "TWO"), ("b", 1, "new")))
    assert (result.rows_updated, result.rows_inserted) == (1, 1)
    read = catalog.load_table(IDENTIFIER).scan().to_arrow().sort_by("tenant").to_pylist()
    assert sorted((r["tenant"], r["account_id"], r["name"]) for r in read) == [
        ("a", 1, "one"),
        ("a", 2, "TWO"),
        ("b", 1, "new"),
    ]


def test_a_table_without_identifier_fields_gets_them_as_a_safe_change(catalog: Catalog) -> None:
    catalog.create_namespace("raw")
    bare = Schema(*SCHEMA.fields)  # as tables made before Cascade recorded the key
    catalog.create_table(IDENTIFIER, bare, properties={MANAGED_PROPERTY: "true"})
    changes, refused = plan_evolution(catalog.load_table(IDENTIFIER), CONTRACT)
    assert [(c.code, c.reason) for c in changes] == [
        ("CAS109", "identifier fields set to tenant, account_id")
    ]
    assert refused == []
    prepared = prepare_table(catalog, CONTRACT)
    assert [c.code for c in prepared.changes] == ["CAS109"]
    live = catalog.load_table(IDENTIFIER).schema()
    assert live.identifier_field_names() == {"tenant", "account_id"}
    assert prepare_table(catalog, CONTRACT).changes == ()  # and then it is up to date


def test_another_key_is_refused_unless_a_review_allowed_it(catalog: Catalog) -> None:
    prepare_table(catalog, CONTRACT)
    before = catalog.load_table(IDENTIFIER).metadata
    rekeyed = TableContract(
        IDENTIFIER, Schema(*SCHEMA.fields, identifier_field_ids=[2]), unique_key=("account_id",)
    )
    with pytest.raises(TableMismatchError) as refused:
        prepare_table(catalog, rekeyed)
    assert "CAS206 unique-key-changed: unique key account_id, tenant -> account_id" in str(
        refused.value
    )
    assert "allow_breaking=('CAS206:unique_key',)" in str(refused.value)
    assert catalog.load_table(IDENTIFIER).metadata == before  # nothing changed

    allowed = TableContract(
        rekeyed.identifier,
        rekeyed.schema,
        unique_key=rekeyed.unique_key,
        allowed_breaking=("CAS206:unique_key",),
    )
    assert [c.code for c in prepare_table(catalog, allowed).changes] == ["CAS206"]
    assert catalog.load_table(IDENTIFIER).schema().identifier_field_names() == {"account_id"}


def test_a_table_whose_identifier_fields_differ_is_named_in_the_mismatch(catalog: Catalog) -> None:
    keyless = TableContract(IDENTIFIER, Schema(*SCHEMA.fields), PartitionSpec())
    prepare_table(catalog, keyless)
    table = catalog.load_table(IDENTIFIER)
    with table.update_schema() as update:
        update.set_identifier_fields("tenant")
    # A key that is only in the table (no unique key generated) is a changed key too.
    with pytest.raises(TableMismatchError) as refused:
        prepare_table(catalog, keyless)
    assert "CAS206" in str(refused.value) and "unique key tenant -> " in str(refused.value)
