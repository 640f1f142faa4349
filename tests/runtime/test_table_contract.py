"""The table contract (runtime/contract.py): what a generated schema module declares, read back
the same way by import and by the compiler's reader, and carried into the table, unique key
included as Iceberg identifier fields."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from cascade.compiler.driver.contract_reader import NotASchemaModule, read_contract
from cascade.compiler.resolve.lock import lock_of
from cascade.runtime.contract import TableContract
from cascade.runtime.errors import TableMismatchError
from cascade.runtime.plan import plan_tables
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


CONTRACT_IMPORTS = (
    "from pyiceberg.schema import Schema\n"
    "from pyiceberg.types import NestedField, StringType\n"
    "from cascade.runtime.contract import TableContract\n"
)
KEY_SCHEMA = 'Schema(NestedField(1, "id", StringType(), required=True))'


def contract_text(**fields: str) -> str:
    arguments = {"identifier": '"raw.t"', "schema": KEY_SCHEMA, **fields}
    return (
        CONTRACT_IMPORTS
        + f"TABLE = TableContract({', '.join(f'{k}={v}' for k, v in arguments.items())})\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("import os\nTABLE = os.system('x')\n", "<m>:2:9: not a literal or pyiceberg call"),
        (
            "from cascade.runtime.contract import TableContract\nTABLE = TableContract(1)\n",
            "<m>:2:9: TableContract",
        ),
        ("TABLE = (1, 2)\n", "<m>:1:9: TABLE is not a TableContract"),
        ("TABLE = TABLE\n", "<m>:1:9: TABLE is defined by itself"),
        ("x = 1\n", "<m>: no IDENTIFIER: not a generated schema module"),
        # Names of the allowed modules that are no data class are never called.
        (
            "from pyiceberg.transforms import _try_import\nX = _try_import('this')\nTABLE = X\n",
            "<m>:2:5: _try_import is not a pyiceberg type",
        ),
        ("from pyiceberg.types import *\nTABLE = LongType()\n", "<m>:2:9: LongType is not"),
        ("from pyiceberg.types import Nope\nTABLE = Nope()\n", "<m>:2:9: Nope is not"),
        ('TABLE = -"a"\n', "<m>:1:9: a minus sign before something that is not a number"),
        ("TABLE = {{}: 2}\n", "<m>:1:9: a dict key that is not a number or a string"),
        ("TABLE = {(1,): 2}\n", "<m>:1:9: a dict key that is not a number or a string"),
        ("TABLE = {**{}}\n", "<m>:1:9: ** entries in a dict are not read"),
        ("TABLE = " + "-" * 3000 + "1\n", "<m>: "),
        ("TABLE = " + "-" * 30000 + "1\n", "<m>: "),
        (contract_text(identifier="1", schema="(1, 2)"), "<m>:4:9: identifier is not"),
        (contract_text(retired_field_ids='{"a": "b"}'), "<m>:4:9: retired_field_ids is not"),
        (contract_text(unique_key="5"), "<m>:4:9: unique_key is not a tuple of column names"),
        (contract_text(last_column_id="True"), "<m>:4:9: last_column_id is not a field id"),
        (contract_text(renamed_columns='{"old": 1}'), "<m>:4:9: renamed_columns is not"),
        (contract_text(ignored_keys='("a.b", 1)'), "<m>:4:9: ignored_keys is not a tuple"),
        (
            contract_text(allowed_breaking='("CAS201:x", 2)'),
            "<m>:4:9: allowed_breaking is not",
        ),
        (
            CONTRACT_IMPORTS
            + f'IDENTIFIER = "raw.t"\nSCHEMA = {KEY_SCHEMA}\nRETIRED_FIELD_IDS = "abc"\n',
            "<m>: retired_field_ids is not a dict of field id to name",
        ),
        ("TABLE = (\n", "<m>:1:9: "),
        ("x = 1\0\n", "<m>: "),
    ],
)
def test_anything_else_is_no_schema_module(text: str, message: str) -> None:
    with pytest.raises(NotASchemaModule) as refused:
        read_contract(text, "<m>")
    assert str(refused.value).startswith(message)


def test_reading_a_module_imports_nothing_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A module on sys.path that records being imported: no schema module may make it load.
    (tmp_path / "cascade_planted.py").write_text("import sys\nsys.modules['PLANTED'] = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    text = (
        "from pyiceberg.transforms import _try_import\n"
        "from cascade_planted import x\n"
        "import cascade_planted\n"
        "TABLE = _try_import('cascade_planted')\n"
    )
    with pytest.raises(NotASchemaModule):
        read_contract(text, "<m>")
    assert "PLANTED" not in sys.modules and "cascade_planted" not in sys.modules


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


def test_a_lock_without_last_column_id_never_reuses_a_retired_id() -> None:
    contract = TableContract(IDENTIFIER, SCHEMA, retired_field_ids={14: "old"})
    assert lock_of(contract).last_column_id == 14
    assert lock_of(CONTRACT).last_column_id == 3


def test_a_refused_table_made_elsewhere_points_at_adopt(catalog: Catalog) -> None:
    # Ids that happen to match the generated ones: no foreign ids, but Cascade's own required
    # columns cannot be added to a table with rows. Adopting is the way out.
    catalog.create_namespace_if_not_exists("raw")
    made = catalog.create_table(IDENTIFIER, Schema(*SCHEMA.fields))
    made.append(rows(("a", 1, "one")))
    grown = Schema(
        *SCHEMA.fields,
        NestedField(4, "_dlt_id", StringType(), required=True),
        identifier_field_ids=[1, 2],
    )
    with pytest.raises(TableMismatchError) as refused:
        prepare_table(catalog, TableContract(IDENTIFIER, grown, unique_key=CONTRACT.unique_key))
    message = str(refused.value)
    assert "CAS204" in message and f"`cascade adopt {IDENTIFIER}` generates a schema" in message
    [plan] = plan_tables(catalog, [TableContract(IDENTIFIER, grown)], "")
    assert plan.status == "refused" and f"cascade adopt {IDENTIFIER}" in plan.detail
