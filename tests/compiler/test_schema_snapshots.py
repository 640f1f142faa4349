"""The example project's table schemas, pinned by the Cascade pytest plugin as a user pins
theirs: a schema change in examples/ fails here until
    .venv/bin/pytest tests/compiler/test_schema_snapshots.py --snapshot-update
"""


def test_example_schemas(cascade_schemas, cascade_snapshot):
    assert cascade_schemas == cascade_snapshot
