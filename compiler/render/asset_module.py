"""Renders `<out>/assets/<group>/<table>.py`: one explicit Dagster asset per ingestion."""

from __future__ import annotations

import datetime as dt

from cascade.compiler.ir import Ingestion, Maintenance
from cascade.compiler.render.python import docstring, header, literal

# Names the asset module defines or imports itself; a user name equal to one gets an alias.
RESERVED_NAMES = frozenset(
    {
        "dg",
        "Iterator",
        "timedelta",
        "IcebergResource",
        "IngestionConfig",
        "UpkeepConfig",
        "load_on_cron",
        "run_ingestion",
        "run_upkeep",
        "context",
        "config",
        "iceberg",
    }
)


# The retries of an upkeep run whose step did not complete (a compaction that concurrent loads
# kept conflicting with, a catalog that did not answer): later, once loads have moved on.
UPKEEP_RETRIES = 2
UPKEEP_RETRY_DELAY_SECONDS = 600


def import_line(module: str, name: str, taken: set[str]) -> tuple[str, str]:
    """`from module import name`, aliased when the name would clash; returns (line, local name)."""
    local = name
    while local in taken:
        local = f"{local}_"
    taken.add(local)
    alias = "" if local == name else f" as {local}"
    return f"from {module} import {name}{alias}", local


def package_import(name: str, taken: set[str]) -> str:
    """`import package`, aliased when the name would clash with a name of the module."""
    if name not in taken:
        taken.add(name)
        return f"import {name}  # noqa: F401"
    local = name
    while local in taken:
        local = f"{local}_"
    taken.add(local)
    return f"import {name} as {local}  # noqa: F401"


# Dagster's class for each granularity.
PARTITIONS_CLASSES = {
    "hourly": "HourlyPartitionsDefinition",
    "daily": "DailyPartitionsDefinition",
    "weekly": "WeeklyPartitionsDefinition",
    "monthly": "MonthlyPartitionsDefinition",
}


def partitions_definition(partitions: str, partition_start: str) -> str:
    """The asset's partitions: from the one that holds the day `partition_start` (YYYY-MM-DD)
    up to and including the one in progress (end_offset=1: a load can address the partition in
    progress, runtime/automation.py). Dagster's weekly and monthly partitions begin at the
    first Sunday or first of the month on or after their start date, so the start is moved back
    to the beginning of the week (Sunday) or month that holds the day; an hourly start is a
    time of day as well."""
    day = dt.date.fromisoformat(partition_start)
    if partitions == "hourly":
        start = f"{day.isoformat()}-00:00"
    elif partitions == "weekly":
        start = (day - dt.timedelta(days=day.isoweekday() % 7)).isoformat()
    elif partitions == "monthly":
        start = day.replace(day=1).isoformat()
    elif partitions == "daily":
        start = day.isoformat()
    else:
        raise ValueError(f"unknown partitions {partitions!r}")  # the resolve stage refuses it
    return f"dg.{PARTITIONS_CLASSES[partitions]}(start_date={literal(start)}, end_offset=1)"


def render_asset_module(ingestion: Ingestion, out_package: str) -> str:
    model = ingestion.model
    job = ingestion.upkeep_job_name
    taken = set(RESERVED_NAMES) | {ingestion.asset_name, job, f"{job}_op", f"{job}_schedule"}
    source_import, source_name = import_line(ingestion.module, ingestion.function, taken)
    if model is not None:
        model_import, model_name = import_line(model.module, model.class_name, taken)
    else:
        model_import, model_name = source_import, "None"  # iceberg_schema only: no validation
    schema_module = f"{out_package}.schemas.{ingestion.group}.{ingestion.table_name}"
    contract_import, contract_name = import_line(schema_module, "TABLE", taken)
    body_imports = sorted(
        {"from cascade.runtime import run_ingestion", source_import, model_import, contract_import}
    )
    # A package imported at load keeps every module inside it importable later, through the
    # package's __path__, whatever sys.path then is.
    packages = sorted(
        {ingestion.module.split(".")[0]} | ({model.module.split(".")[0]} if model else set())
    )
    package_imports = [package_import(name, taken) for name in packages]

    decorator = [
        f"name={literal(ingestion.asset_name)}",
        f"group_name={literal(ingestion.group)}",
    ]
    if ingestion.docstring:
        decorator.append(f"description={literal(ingestion.docstring)}")
    if ingestion.partitions is not None:
        partitions_def = partitions_definition(ingestion.partitions, ingestion.partition_start)
        decorator.append(f"partitions_def={partitions_def}")
        # A backfill of many partitions is one run: the function is called for each, and the
        # rows are merged in one commit (runtime/run.py).
        decorator.append("backfill_policy=dg.BackfillPolicy.single_run()")
    decorator.append(
        f"retry_policy=dg.RetryPolicy(max_retries={ingestion.max_retries}, "
        f"delay={literal(ingestion.retry_delay_seconds)})"
    )
    if ingestion.cron:
        # Daily partitions, the default, need no argument (and so keep the modules generated
        # before there was a choice as they were).
        choice = (
            ""
            if ingestion.partitions == "daily"
            else f", partitions={literal(ingestion.partitions)}"
        )
        decorator.append(f"automation_condition=load_on_cron({literal(ingestion.cron)}{choice})")
    if ingestion.freshness:
        decorator.append(
            "freshness_policy=dg.FreshnessPolicy.time_window("
            f"warn_window=timedelta(hours={literal(ingestion.freshness.warn)}), "
            f"fail_window=timedelta(hours={literal(ingestion.freshness.fail)}))"
        )
    metadata = {
        "cascade/source": ingestion.path,
        "cascade/table": ingestion.identifier,
        "cascade/unique_key": ", ".join(ingestion.unique_key),
    }
    decorator += ['kinds={"dlt", "iceberg"}', f"metadata={literal(metadata)}"]
    if ingestion.validate and model is not None:
        # The runtime reports the Pandera result as this check (PANDERA_CHECK in runtime/run.py).
        description = literal(f"Rows satisfy the Pandera model {model.class_name}")
        decorator.append(
            f'check_specs=[dg.AssetCheckSpec("pandera_validation", '
            f"asset={literal(ingestion.asset_name)}, description={description})]"
        )

    upkeep = ingestion.maintenance
    lines = [
        header(ingestion.path),
        docstring(
            f"Dagster asset that loads {ingestion.identifier} from the ingestion "
            f"{ingestion.function}."
            + ("\n\nThen the table's upkeep job and its schedule." if upkeep else "")
        ),
        "",
    ]
    lines.append("from collections.abc import Iterator")
    if ingestion.freshness:
        lines.append("from datetime import timedelta")
    lines.append("")
    lines += [
        "import dagster as dg",
        "",
        "# The project's packages are imported now, while Dagster has the project folder on",
        "# sys.path (only during loading), so that the asset can import its modules when it runs.",
        *package_imports,
        "from cascade.runtime import IcebergResource, IngestionConfig"
        + (", UpkeepConfig" if upkeep else "")
        + (", load_on_cron" if ingestion.cron else ""),
        "",
        "",
        "@dg.asset(",
        *(f"    {argument}," for argument in decorator),
        ")",
        f"def {ingestion.asset_name}(",
        "    context: dg.AssetExecutionContext, config: IngestionConfig, iceberg: IcebergResource",
        ") -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:",
        "    # Imported here, when the asset runs, not when Dagster loads the definitions: dlt,",
        "    # Pandera, PyIceberg and the user's modules load only in the runs that need them.",
        *(f"    {line}" for line in body_imports),
        "",
        "    yield from run_ingestion(",
        "        context,",
        "        config=config,",
        "        iceberg=iceberg,",
        f"        source={source_name},",
        f"        validation_schema={model_name},",
        f"        table={contract_name},",
        f"        validate={ingestion.validate},",
        f"        max_runtime_seconds={literal(ingestion.max_runtime_seconds)},",
        "    )",
    ]
    if upkeep is not None:
        lines += upkeep_lines(ingestion, upkeep, contract_import, contract_name)
    return "\n".join(lines) + "\n"


def upkeep_lines(
    ingestion: Ingestion, upkeep: Maintenance, contract_import: str, contract_name: str
) -> list[str]:
    """The table's upkeep: an op that runs `cascade maintain`'s steps on it with the options of
    `maintenance=` (runtime/upkeep_job.py), its job, and the job's schedule on the cron."""
    job = ingestion.upkeep_job_name
    identifier = ingestion.identifier
    description = f"Upkeep of {identifier}: compaction, snapshot expiry, orphan-file removal"
    body_imports = sorted({"from cascade.runtime import run_upkeep", contract_import})
    return [
        "",
        "",
        f"@dg.op(out={{}}, retry_policy=dg.RetryPolicy(max_retries={UPKEEP_RETRIES}, "
        f"delay={UPKEEP_RETRY_DELAY_SECONDS}))",
        f"def {job}_op(",
        "    context: dg.OpExecutionContext, config: UpkeepConfig, iceberg: IcebergResource",
        ") -> Iterator[dg.AssetObservation]:",
        "    # Every figure is reported as an observation of the table's asset.",
        *(f"    {line}" for line in body_imports),
        "",
        "    yield from run_upkeep(",
        "        context,",
        "        config=config,",
        "        iceberg=iceberg,",
        f"        table={contract_name},",
        f"        asset_key={ingestion.asset_name}.key,",
        f"        retention_days={literal(upkeep.retention_days)},",
        f"        orphan_age_hours={literal(upkeep.orphan_age_hours)},",
        f"        target_file_size_mb={literal(upkeep.target_file_size_mb)},",
        # Only when set: a table without it keeps the call it had before the option existed.
        *(
            [f"        max_file_rows={literal(upkeep.max_file_rows)},"]
            if upkeep.max_file_rows is not None
            else []
        ),
        "    )",
        "",
        "",
        f"@dg.job(name={literal(job)}, description={literal(description)})",
        f"def {job}() -> None:",
        f"    {job}_op()",
        "",
        "",
        "# Stopped until turned on in Dagster's UI (Automation) or by `dagster schedule start`;",
        "# Dagster's instance keeps it on from then, across deployments.",
        f"{job}_schedule = dg.ScheduleDefinition(",
        f"    name={literal(job + '_schedule')},",
        f"    job={job},",
        f"    cron_schedule={literal(upkeep.cron)},",
        '    execution_timezone="UTC",',
        "    default_status=dg.DefaultScheduleStatus.STOPPED,",
        ")",
    ]
