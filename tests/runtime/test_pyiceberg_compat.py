"""`cascade.runtime.pyiceberg_compat` is the one place Cascade uses pyiceberg's private API.

An upgrade of pyiceberg fails here first, and clearly: the installed version must be one the
module was read against, and every private name it relies on must still be there with the
shape it expects. Its two patches change pyiceberg only while a caller is inside them: never at
import, and always undone after the last caller leaves.
"""

import inspect
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyiceberg
import pyiceberg.io.pyarrow as pyiceberg_arrow
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.manifest import ManifestFile
from pyiceberg.schema import Schema
from pyiceberg.table import Table, Transaction
from pyiceberg.table.snapshots import Operation
from pyiceberg.table.update import AssertRefSnapshotId, SetSnapshotRefUpdate, validate
from pyiceberg.table.update import snapshot as snapshot_update
from pyiceberg.types import LongType, NestedField

from cascade.runtime import manifest_cache, pyiceberg_compat
from cascade.runtime.pyiceberg_compat import (
    CHECKED_PYICEBERG_VERSIONS,
    CachedMetadataTransaction,
    SharedPatch,
    disable_commit_retries,
    expire_snapshots_guarded,
    keeping_null_lists,
    pyiceberg_version_checked,
    replace_files,
    stage_branch_move,
)
from tests.helpers import REPO_ROOT

COMPAT_MODULE = "runtime/pyiceberg_compat.py"


def test_the_installed_pyiceberg_version_was_checked() -> None:
    assert pyiceberg_version_checked(), (
        f"pyiceberg {pyiceberg.__version__} is installed, but {COMPAT_MODULE} was read only "
        f"against {', '.join(sorted(CHECKED_PYICEBERG_VERSIONS))}. Read each of its functions "
        "against the installed pyiceberg (the private names and what pyiceberg still lacks "
        "publicly), run tests/runtime/test_pyiceberg_compat.py and "
        "tests/runtime/test_null_lists.py, then add "
        f"{pyiceberg.__version__!r} to CHECKED_PYICEBERG_VERSIONS."
    )


# --- Every private name the module relies on, with the shape it expects ---------------------


def parameters(function: Callable[..., object]) -> list[str]:
    return list(inspect.signature(function).parameters)


# (owner, name, parameters): what the module calls, and the parameters it passes.
PRIVATE_FUNCTIONS = [
    (
        pyiceberg_arrow,
        "_dataframe_to_data_files",
        ["table_metadata", "df", "io", "write_uuid", "counter"],
    ),
    (
        pyiceberg_arrow,
        "_check_pyarrow_schema_compatible",
        ["requested_schema", "provided_schema", "downcast_ns_timestamp_to_us", "format_version"],
    ),
    (Transaction, "_stage", ["self", "updates", "requirements"]),
    # Merges and compactions: the overwrite producer keeping only manifests with live files.
    (snapshot_update._OverwriteFiles, "_process_manifests", ["self", "manifests"]),
    # A compaction's replace: the overwrite producer with its summary and validation replaced.
    (snapshot_update._OverwriteFiles, "_summary", ["self", "snapshot_properties"]),
    (snapshot_update._OverwriteFiles, "_validate_concurrency", ["self"]),
    (
        validate,
        "_validate_data_files_exist",
        ["table", "starting_snapshot", "data_files", "parent_snapshot"],
    ),
    (
        validate,
        "_validate_no_new_deletes_for_data_files",
        ["table", "starting_snapshot", "data_filter", "data_files", "parent_snapshot"],
    ),
    (snapshot_update.ExpireSnapshots, "_commit", ["self"]),
    # Replaced while a merge reads manifests, and overridden for null lists.
    (ManifestFile, "fetch_manifest_entry", ["self", "io", "discard_deleted"]),
    (
        pyiceberg_arrow.ArrowProjectionVisitor,
        "list",
        ["self", "list_type", "list_array", "value_array"],
    ),
    (
        pyiceberg_arrow.ArrowProjectionVisitor,
        "map",
        ["self", "map_type", "map_array", "key_result", "value_result"],
    ),
]


@pytest.mark.parametrize(
    ("owner", "name", "expected"), PRIVATE_FUNCTIONS, ids=[f[1] for f in PRIVATE_FUNCTIONS]
)
def test_a_private_function_is_still_there_with_its_parameters(
    owner: object, name: str, expected: list[str]
) -> None:
    function = getattr(owner, name, None)
    where = f"{getattr(owner, '__name__', owner)}.{name}"
    assert callable(function), f"pyiceberg {pyiceberg.__version__} has no {where}: {COMPAT_MODULE}"
    assert parameters(function) == expected, (
        f"pyiceberg {pyiceberg.__version__}'s {where} takes {parameters(function)}, "
        f"{COMPAT_MODULE} calls it with {expected}"
    )


def test_the_projection_is_looked_up_by_name_on_every_call() -> None:
    """`keeping_null_lists` replaces the module attribute: that works only while
    `_to_requested_schema` reads the global name each time it runs."""
    project = pyiceberg_arrow._to_requested_schema
    assert "ArrowProjectionVisitor" in project.__code__.co_names, (
        f"pyiceberg {pyiceberg.__version__}'s _to_requested_schema no longer looks up "
        f"ArrowProjectionVisitor: keeping_null_lists in {COMPAT_MODULE} would do nothing"
    )


SCHEMA = Schema(NestedField(1, "id", LongType(), required=True))


def ids(*values: int) -> pa.Table:
    return pa.Table.from_pylist([{"id": value} for value in values], schema=SCHEMA.as_arrow())


@pytest.fixture
def catalog(tmp_path: Path) -> SqlCatalog:
    catalog = SqlCatalog(
        "compat", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=tmp_path.as_uri()
    )
    catalog.create_namespace("raw")
    catalog.create_table("raw.ids", SCHEMA).append(ids(1))
    return catalog


@pytest.fixture
def table(catalog: SqlCatalog) -> Table:
    return catalog.load_table("raw.ids")


def test_a_transaction_still_holds_the_private_state_the_module_reads(table: Table) -> None:
    transaction = table.transaction()
    assert transaction._table is table
    assert transaction._updates == ()
    assert transaction._snapshot_producers == []
    with transaction.update_snapshot().overwrite() as overwrite:
        overwrite.delete_by_predicate(AlwaysTrue())
    # The producer `disable_commit_retries` forgets, and the updates table_metadata applies.
    assert len(transaction._snapshot_producers) == 1
    assert transaction._snapshot_producers[0] is overwrite
    assert isinstance(transaction._updates, tuple) and transaction._updates
    assert transaction.table_metadata.current_snapshot_id == overwrite.snapshot_id
    # A property, which CachedMetadataTransaction overrides and calls.
    assert isinstance(inspect.getattr_static(Transaction, "table_metadata"), property)


@pytest.mark.parametrize("disabled", [False, True], ids=["pyiceberg retries", "disabled"])
def test_a_commit_that_lost_a_race_fails_once_retries_are_disabled(
    catalog: SqlCatalog, disabled: bool
) -> None:
    stale = catalog.load_table("raw.ids")
    catalog.load_table("raw.ids").append(ids(2))  # the race it loses
    transaction = stale.transaction()
    transaction.append(ids(3))
    if disabled:
        disable_commit_retries(transaction)
        with pytest.raises(CommitFailedException):
            transaction.commit_transaction()
    else:
        transaction.commit_transaction()  # pyiceberg rebuilds the append on the new snapshot
    rows = catalog.load_table("raw.ids").scan().to_arrow()["id"].to_pylist()
    assert sorted(rows) == ([1, 2] if disabled else [1, 2, 3])


def test_the_cached_metadata_is_pyiceberg_s_own(table: Table) -> None:
    plain, cached = table.transaction(), CachedMetadataTransaction(table)
    assert cached.table_metadata is table.metadata  # nothing staged: the table's own
    for transaction in (plain, cached):
        stage_branch_move(transaction, "dev", table.metadata.current_snapshot_id, None)
    stamp = {"last_updated_ms"}  # each works out its own; the rest is the same
    assert cached.table_metadata.model_dump(exclude=stamp) == plain.table_metadata.model_dump(
        exclude=stamp
    )
    assert cached.table_metadata is cached.table_metadata  # worked out once per change
    assert cached.table_metadata.refs["dev"].snapshot_id == table.metadata.current_snapshot_id


def test_a_branch_move_is_one_update_guarded_by_the_expected_snapshot(table: Table) -> None:
    transaction = table.transaction()
    head = table.metadata.current_snapshot_id
    stage_branch_move(transaction, "main", head, head)
    (update,) = transaction._updates
    assert isinstance(update, SetSnapshotRefUpdate)
    assert (update.ref_name, update.snapshot_id) == ("main", head)
    assert AssertRefSnapshotId(ref="main", snapshot_id=head) in transaction._requirements


def a_replace_of_the_first_file(table: Table) -> Transaction:
    """A transaction of `table` that replaces its first data file with a copy, not committed."""
    from cascade.runtime.data_files import FileWriter

    [task] = table.scan().plan_files()
    [written] = FileWriter(table)(table.scan().to_arrow())
    transaction = table.transaction()
    with replace_files(transaction, "main") as replace:
        replace.delete_data_file(task.file)
        replace.append_data_file(written)
    return transaction


def test_a_replace_snapshot_lands_on_top_of_a_concurrent_append(catalog: SqlCatalog) -> None:
    stale = catalog.load_table("raw.ids")
    transaction = a_replace_of_the_first_file(stale)
    catalog.load_table("raw.ids").append(ids(2))  # an overwrite would refuse it (serializable)

    transaction.commit_transaction()  # pyiceberg's retry, validated

    table = catalog.load_table("raw.ids")
    assert sorted(table.scan().to_arrow()["id"].to_pylist()) == [1, 2]
    head = table.current_snapshot()
    assert head.summary.operation == Operation.REPLACE
    assert head.summary["total-records"] == "2" and head.summary["total-data-files"] == "2"


def test_a_replace_is_refused_once_a_concurrent_snapshot_removed_its_file(
    catalog: SqlCatalog,
) -> None:
    stale = catalog.load_table("raw.ids")
    transaction = a_replace_of_the_first_file(stale)
    catalog.load_table("raw.ids").overwrite(ids(5))  # rewrites the file being replaced

    with pytest.raises(ValidationException, match="Data files were concurrently deleted"):
        transaction.commit_transaction()  # the replace's own validation, before pyiceberg's

    assert catalog.load_table("raw.ids").scan().to_arrow()["id"].to_pylist() == [5]


def test_a_guarded_expiry_fails_once_a_branch_moved(catalog: SqlCatalog) -> None:
    table = catalog.load_table("raw.ids")
    first = table.metadata.current_snapshot_id
    table.manage_snapshots().create_branch(first, "dev").commit()
    table.append(ids(2))
    table.append(ids(3))
    dev = table.metadata.current_snapshot_id
    table.manage_snapshots().remove_branch("dev").create_branch(dev, "dev").commit()
    stale = catalog.load_table("raw.ids")
    # Another writer moves dev back onto the first snapshot, which `stale` would expire.
    catalog.load_table("raw.ids").manage_snapshots().remove_branch("dev").create_branch(
        first, "dev"
    ).commit()

    with pytest.raises(CommitFailedException, match="dev has changed"):
        expire_snapshots_guarded(stale, [first])

    assert catalog.load_table("raw.ids").metadata.refs["dev"].snapshot_id == first
    fresh = catalog.load_table("raw.ids")
    second = fresh.snapshots()[1].snapshot_id
    expire_snapshots_guarded(fresh, [second])  # where nothing moved, it lands
    assert catalog.load_table("raw.ids").snapshot_by_id(second) is None


# --- Importing patches nothing; a patch is undone after its last caller ----------------------

# What the patches replace, and the contexts that install them.
PATCHED = [
    ("pyiceberg.io.pyarrow", "ArrowProjectionVisitor", keeping_null_lists),
    ("pyiceberg.manifest", "ManifestFile.fetch_manifest_entry", manifest_cache.reading_once),
]

IMPORT_CHECK = """
import importlib, inspect, json, sys

def attributes():
    found = {}
    for name, module in list(sys.modules.items()):
        if name != "pyiceberg" and not name.startswith("pyiceberg."):
            continue
        for attribute, value in list(vars(module).items()):
            found[f"{name}.{attribute}"] = value
            if inspect.isclass(value) and value.__module__ == name:
                for member, member_value in list(vars(value).items()):
                    found[f"{name}.{attribute}.{member}"] = member_value
    return found

for name in json.loads(sys.argv[1]):  # every pyiceberg module Cascade imports, first
    importlib.import_module(name)
before = attributes()
for name in json.loads(sys.argv[2]):
    importlib.import_module(name)
after = attributes()
changed = sorted(
    key for key in before.keys() | after.keys()
    if key not in before or key not in after or before[key] is not after[key]
)
print(json.dumps(changed))
"""


def test_importing_cascade_changes_no_pyiceberg_attribute() -> None:
    cascade_modules = [
        "cascade.runtime.pyiceberg_compat",
        "cascade.runtime.manifest_cache",
        "cascade.runtime.merge",
        "cascade.runtime.publish",
        "cascade.runtime.data_files",
        "cascade.runtime.compaction",
        "cascade.runtime.upkeep",
        "cascade.runtime.maintain",
    ]
    # This process has imported them: so it has imported every pyiceberg module they import.
    pyiceberg_modules = sorted(
        name for name in sys.modules if name == "pyiceberg" or name.startswith("pyiceberg.")
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            IMPORT_CHECK,
            json.dumps(pyiceberg_modules),
            json.dumps(cascade_modules),
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    assert json.loads(result.stdout) == [], (
        f"importing {', '.join(cascade_modules)} changed these pyiceberg attributes"
    )


def resolve(module: str, path: str) -> tuple[object, str]:
    owner: object = sys.modules[module]
    *parents, attribute = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    return owner, attribute


@pytest.mark.parametrize(("module", "path", "context"), PATCHED, ids=[p[1] for p in PATCHED])
def test_a_patch_is_pyiceberg_s_own_outside_its_context(
    module: str, path: str, context: Callable[[], AbstractContextManager[None]]
) -> None:
    owner, attribute = resolve(module, path)
    original = getattr(owner, attribute)
    assert original.__module__ == module  # pyiceberg's own, not left patched by another test

    with context():
        patched = getattr(owner, attribute)
        assert patched is not original
        with context():  # nested
            assert getattr(owner, attribute) is patched
        assert getattr(owner, attribute) is patched  # the outer caller is still inside
    assert getattr(owner, attribute) is original

    with pytest.raises(RuntimeError), context():
        raise RuntimeError("inside")
    assert getattr(owner, attribute) is original


@pytest.mark.parametrize(("module", "path", "context"), PATCHED, ids=[p[1] for p in PATCHED])
def test_a_patch_stays_until_the_last_of_two_threads_leaves(
    module: str, path: str, context: Callable[[], AbstractContextManager[None]]
) -> None:
    owner, attribute = resolve(module, path)
    original = getattr(owner, attribute)
    first_inside, second_inside, first_left = (threading.Event() for _ in range(3))
    seen: dict[str, object] = {}

    def first() -> None:
        with context():
            first_inside.set()
            second_inside.wait(10)
        first_left.set()

    def second() -> None:
        first_inside.wait(10)
        with context():
            second_inside.set()
            first_left.wait(10)
            seen["after the first left"] = getattr(owner, attribute)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert first_left.is_set()
    assert seen["after the first left"] is not original
    assert getattr(owner, attribute) is original


def test_a_shared_patch_from_many_threads_is_undone_once() -> None:
    owner = SimpleNamespace(value="original")
    removed: list[str] = []
    patch = SharedPatch(owner, "value", "patched", lambda: removed.append(owner.value))
    assert not patch.installed and owner.value == "original"  # creating installs nothing
    start = threading.Barrier(8)

    def use() -> None:
        start.wait(10)
        for _ in range(200):
            with patch:
                assert owner.value == "patched"
                with patch:
                    pass

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert owner.value == "original" and not patch.installed
    assert removed and set(removed) == {"original"}  # called after the original was back


def test_an_unchecked_version_warns_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(pyiceberg, "__version__", "99.0.0")
    pyiceberg_compat._warn_if_unchecked.cache_clear()
    try:
        assert not pyiceberg_version_checked()
        with keeping_null_lists(), keeping_null_lists():
            pass
        warnings = [r.getMessage() for r in caplog.records if r.name == pyiceberg_compat.__name__]
        assert len(warnings) == 1 and "pyiceberg 99.0.0 is not among" in warnings[0]
    finally:
        pyiceberg_compat._warn_if_unchecked.cache_clear()
