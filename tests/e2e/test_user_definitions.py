"""Cascade's generated `defs` composed with a user's own Dagster code (README "Your own Dagster
code"): `dg.Definitions.merge` with the user's assets, resources and executor, a user asset
downstream of a Cascade table, and the catalog chosen by the deployment's configuration."""

import dagster as dg
import pytest
from pyiceberg.catalog import Catalog

from cascade.runtime import IcebergResource
from examples.fixtures.nightscout_server import NightscoutFixtureServer
from generated.definitions import defs as cascade_defs

GLUCOSE = dg.AssetKey("dlt_glucose_entries")


# The generated asset's own partitions (they end with today's): one run can then load both.
@dg.asset(deps=[GLUCOSE], partitions_def=cascade_defs.get_assets_def(GLUCOSE).partitions_def)
def daily_mean_sgv(context: dg.AssetExecutionContext, iceberg: IcebergResource) -> float:
    """A user's asset that reads the Cascade table through the same resource."""
    table = iceberg.load_catalog().load_table("raw.glucose_entries")
    rows = table.scan(selected_fields=("sgv", "date_string")).to_arrow().to_pylist()
    day = context.partition_key
    values = [r["sgv"] for r in rows if r["date_string"].date().isoformat() == day]
    return sum(values) / len(values)


def user_defs() -> dg.Definitions:
    # What a user's own definitions module does: merge, and pick the executor for everything.
    return dg.Definitions.merge(
        cascade_defs,
        dg.Definitions(assets=[daily_mean_sgv], executor=dg.in_process_executor),
    )


def test_merged_definitions_load_and_feed_a_downstream_user_asset(
    catalog: Catalog, nightscout: NightscoutFixtureServer
) -> None:
    defs = user_defs()
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("daily_mean_sgv")).parent_keys == {GLUCOSE}
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        partition_key="2024-01-01",
        asset_selection=[GLUCOSE, dg.AssetKey("daily_mean_sgv")],
    )
    assert result.success
    mean = result.output_for_node("daily_mean_sgv")
    stored = catalog.load_table("raw.glucose_entries").scan(selected_fields=("sgv",)).to_arrow()
    values = stored.column("sgv").to_pylist()
    assert len(values) == 288 and mean == pytest.approx(sum(values) / len(values))
    # The catalog the deployment configured (catalog_env: PYICEBERG_CATALOG__CASCADE__*), not
    # the embedded default under the project folder.
    location = catalog.load_table("raw.glucose_entries").metadata_location
    assert location.startswith(catalog.properties["warehouse"])


def test_a_user_resource_under_another_key_does_not_replace_cascades() -> None:
    defs = dg.Definitions.merge(
        cascade_defs,
        dg.Definitions(resources={"warehouse_alerts": dg.ResourceDefinition.none_resource()}),
    )
    assert set(defs.resources) == {"iceberg", "warehouse_alerts"}
    assert isinstance(defs.resources["iceberg"], IcebergResource)
