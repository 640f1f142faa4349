"""The quick start's main job: materialize the example ingestion for a few daily partitions
into the embedded default catalog, then show what landed.

    python -m examples.demo [--days 3] [--start 2024-01-01]

The Nightscout and GitHub fixture servers run on 127.0.0.1 for the duration, so no network is
needed. The generated definitions are used exactly as a Dagster deployment would load them, and
the runs are recorded in the project's Dagster instance (DAGSTER_HOME, by default
`.cascade/dagster`), where Dagster's UI (`make ui`) shows them with their metadata and checks.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta

import dagster as dg
from pyiceberg.table import Table
from pyiceberg.transforms import TimeTransform

from examples.with_fixtures import fixture_servers, project_dagster_home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2024-01-01", help="first partition (YYYY-MM-DD)")
    parser.add_argument("--days", type=int, default=3, help="number of daily partitions")
    args = parser.parse_args()

    home = project_dagster_home()
    with fixture_servers(), dg.DagsterInstance.get() as instance:
        # Imported after the environment is set up, as `dagster` would import it.
        from generated.definitions import defs

        job = defs.resolve_implicit_global_asset_job_def()
        start = date.fromisoformat(args.start)
        for offset in range(args.days):
            partition = (start + timedelta(days=offset)).isoformat()
            result = job.execute_in_process(
                partition_key=partition,
                instance=instance,
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            )
            for event in sorted(
                result.get_asset_materialization_events(), key=lambda e: e.asset_key
            ):
                meta = event.materialization.metadata
                print(
                    f"{partition}: {event.asset_key.to_user_string()} "
                    f"inserted={meta['rows_inserted'].value} "
                    f"updated={meta['rows_updated'].value} "
                    f"unchanged={meta['rows_unchanged'].value} "
                    f"branch={meta['branch'].value} "
                    f"in {meta['total_elapsed_seconds'].value:.2f}s"
                )

    show_tables(defs)
    print(f"\nThe runs are in the Dagster instance {home}: `make ui` shows them.")


def show_tables(defs: dg.Definitions) -> None:
    """Read every table back from the catalog the assets wrote to: rows per partition, then a
    few rows."""
    catalog = defs.resources["iceberg"].load_catalog()
    for namespace in catalog.list_namespaces():
        for identifier in sorted(catalog.list_tables(namespace)):
            table = catalog.load_table(identifier)
            rows = table.scan().to_arrow()
            snapshot = table.current_snapshot()
            print(
                f"\n{'.'.join(identifier)}: {rows.num_rows} rows, snapshot {snapshot.snapshot_id}"
            )
            partitions = table.inspect.partitions().sort_by("partition")
            for partition, count in zip(
                partitions["partition"].to_pylist(),
                partitions["record_count"].to_pylist(),
                strict=True,
            ):
                shown = ", ".join(
                    f"{name}={partition_value(table, name, value)}"
                    for name, value in partition.items()
                )
                print(f"  partition {shown}: {count} rows")
            columns = [c for c in rows.column_names if not c.startswith("_")][:8]
            print(rows.select(columns).slice(0, 5).to_pandas().to_string(index=False))


def partition_value(table: Table, name: str, value: object) -> object:
    """A partition value as Iceberg writes it in paths (`2024-01` for a month, not its count of
    months since 1970), through the transform's own `to_human_string`."""
    field = next(f for f in table.spec().fields if f.name == name)
    if not isinstance(value, int) or not isinstance(field.transform, TimeTransform):
        return value
    source = table.schema().find_field(field.source_id).field_type
    return field.transform.to_human_string(source, value)


if __name__ == "__main__":
    main()
