"""The compiler's own rules checked against the code they stand in for: the cron check against
Dagster's, its reading of which partitions a cron ticks in against Dagster's ticks and
partitions, the dlt-name check against dlt itself, the parameters it reads against the
decorator users import, its check of `ignored_keys` against the load's routing of keys, and the
default upkeep of a table against the decorator's and `cascade maintain`'s."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from dagster._utils.schedules import cron_string_iterator, is_valid_cron_string
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.common.schema import Schema as DltSchema
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from cascade.compiler import compile_project, load_config
from cascade.compiler.resolve.cron import cron_problem, partitions_ticked
from cascade.compiler.resolve.ingestions import PARAMETERS, REQUIRED_PARAMETERS
from cascade.compiler.resolve.naming import dlt_keeps
from cascade.runtime import cascade_ingestion
from cascade.runtime.contract import TableContract
from cascade.runtime.records import RecordConverter
from tests.helpers import CASES

CRONS = [
    "0 */1 * * *", "30 6 * * mon-fri", "*/15 * * * *", "0 0 1 1 *", "0 0 * * 7", "5,10 1-3 * * *",
    "0 12 * jan,jul sun", "@daily", "@hourly", "0 25 * * *", "60 * * * *", "0 0 32 * *",
    "0 0 * 13 *", "0 0 * * 8", "* * * *", "* * * * * *", "0 5-1 * * *", "0 */0 * * *",
    "0 0 * * funday", "abc", "", "0 0 0 * *", "1-2-3 * * * *", "0 22-2 * * *", "0 0 * * 0-7",
]  # fmt: skip


@pytest.mark.parametrize("expression", CRONS)
def test_cron_check_agrees_with_dagster(expression: str):
    assert (cron_problem(expression) is None) == is_valid_cron_string(expression), expression


# Crons whose ticks leave some partitions of a granularity without one, or not: weekdays,
# days of the month that not every month has, both day fields (croniter then takes either),
# ranges that wrap around, steps, a range from a value to itself (croniter: every value),
# names and macros.
TICK_CRONS = [
    "0 */1 * * *", "*/15 * * * *", "30 * * * 1-5", "0 0 * * *", "0 6 * * mon-fri",
    "0 22-2 * * *", "0 5-5 * * *", "0 0 * * 0", "0 0 * * 7", "0 0 * * 6-1", "0 0 * * */2",
    "0 0 * * 3/3", "0 0 * * 5-5", "0 0 1 * *", "0 0 31 * *", "0 0 28-31 * *", "0 0 29-31 * *",
    "0 0 */2 * *", "0 0 */3 * *", "0 0 */8 * *", "0 0 5/7 * *", "0 0 1-7 * *", "0 0 8-14 * *",
    "0 0 1,8,15,22 * *", "0 0 1,8,15,22,29 * *", "0 0 1-7 * 1", "0 0 1-31 * 1",
    "0 0 1-31 * 0-6", "0 0 25-31 * sun", "0 0 */1 * mon", "0 0 1,*/2 * *", "0 0 * jan-nov *",
    "0 0 * 12-1 *", "0 0 * */2 *", "0 0 29 2 *", "@hourly", "@daily", "@weekly", "@monthly",
    "@yearly",
]  # fmt: skip
# Where each granularity is checked against Dagster: a leap February and a year's turn.
TICK_SPANS = {
    "hourly": (dg.HourlyPartitionsDefinition(start_date="2024-02-26-00:00"), "2024-03-04"),
    "daily": (dg.DailyPartitionsDefinition(start_date="2023-12-01"), "2025-03-05"),
    "weekly": (dg.WeeklyPartitionsDefinition(start_date="2023-12-03"), "2025-03-05"),
    "monthly": (dg.MonthlyPartitionsDefinition(start_date="2023-01-01"), "2029-03-01"),
}


def ticked_by_dagster(cron: str) -> set[str]:
    """The granularities of whose partitions (in TICK_SPANS) each holds a tick of `cron`, as
    Dagster's partitions definitions and cron iteration say."""
    ticked = set()
    for granularity, (partitions_def, end) in TICK_SPANS.items():
        current_time = datetime.fromisoformat(end).replace(tzinfo=UTC)
        for key in partitions_def.get_partition_keys(current_time=current_time):
            window = partitions_def.time_window_for_partition_key(key)
            if next(cron_string_iterator(window.start.timestamp(), cron, "UTC")) >= window.end:
                break
        else:
            ticked.add(granularity)
    if "daily" not in ticked:
        ticked.discard("hourly")  # the hourly span is a week: every hour needs every day too
    return ticked


@pytest.mark.parametrize("cron", TICK_CRONS)
def test_the_partitions_a_cron_ticks_in_are_those_dagster_ticks_in(cron: str):
    assert cron_problem(cron) is None
    assert partitions_ticked(cron) == ticked_by_dagster(cron)


def cron_field(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    value = st.integers(low, high).map(str) | st.sampled_from(names or (str(low),))
    step = st.integers(1, 9).map(str)
    term = st.one_of(
        st.just("*"),
        st.builds("*/{}".format, st.integers(1, high)),
        value,
        st.builds("{}-{}".format, value, value),
        st.builds("{}-{}/{}".format, value, value, step),
        st.builds("{}/{}".format, value, step),
    )
    return st.lists(term, min_size=1, max_size=2).map(",".join)


@settings(max_examples=40)
@given(
    minute=st.integers(0, 59).map(str),
    hour=cron_field(0, 23),
    day=cron_field(1, 31),
    month=cron_field(1, 12, ("jan", "feb", "jun", "dec")),
    weekday=cron_field(0, 7, ("sun", "mon", "fri", "sat")),
)
def test_any_cron_ticks_in_the_partitions_dagster_ticks_in(
    minute: str, hour: str, day: str, month: str, weekday: str
):
    cron = f"{minute} {hour} {day} {month} {weekday}"
    assume(cron_problem(cron) is None and is_valid_cron_string(cron))
    assert partitions_ticked(cron) == ticked_by_dagster(cron), cron


NAME_ALPHABET = st.sampled_from(list("abcxyzABZ019_- .é"))


@given(st.text(NAME_ALPHABET, min_size=1, max_size=12))
@example("address__2")  # dlt: address___2 (each part of a path is normalised on its own)
@example("a__b")
@example("a___b")
@example("_id")
@example("dateString")
def test_dlt_keeps_exactly_the_names_dlt_leaves_unchanged(name: str):
    assert dlt_keeps(name) == (NamingConvention().normalize_path(name) == name)


def test_the_decorator_takes_exactly_the_parameters_the_compiler_reads():
    parameters = inspect.signature(cascade_ingestion).parameters
    assert sorted(parameters) == sorted(PARAMETERS)
    required = [name for name, p in parameters.items() if p.default is inspect.Parameter.empty]
    assert sorted(required) == sorted(REQUIRED_PARAMETERS)


# The model of tests/cases/params_ignored_keys: flattened columns, a struct, a list of structs,
# a map of structs, a renamed column.
IGNORED_KEYS_CASE = CASES / "params_ignored_keys"
INGESTION = """\
from cascade.runtime import cascade_ingestion
from cascade.runtime.contract import TableContract
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    ignored_keys={ignored_keys!r},
)
def events(partition_date: str):
    return None
"""
# Keys the load drops (and so may be ignored), then keys the table keeps (and may not be).
DROPPED = ["actor.url", "actor.avatarUrl", "org", "payload.commits", "place.geo", "track[].alt",
           "sites.value.elevation", "_dlt_id", "payload.Action_Id"]  # fmt: skip
KEPT = ["event_id", "eventId", "actor.login", "actor.Login", "title", "place.country",
        "place.Country", "track[].lat", "sites.value.lon", "sites.berlin", "track.alt",
        "label.first", "payload", "actor", "payload.action"]  # fmt: skip


def compile_ignoring(root: Path, ignored_keys: tuple[str, ...]):
    (root / "ingestion").mkdir(parents=True, exist_ok=True)
    (root / "models").mkdir(exist_ok=True)
    for path in ("pyproject.toml", "models/events.py"):
        (root / path).write_text((IGNORED_KEYS_CASE / path).read_text(encoding="utf-8"))
    (root / "ingestion/events.py").write_text(INGESTION.format(ignored_keys=ignored_keys))
    return compile_project(load_config(root), previous={})


def record_holding(key: str) -> dict:
    """A record holding the dotted `key` (`track[].alt` -> {"track": [{"alt": 1}]})."""
    value: object = 1
    for part in reversed(key.split(".")):
        while part.endswith("[]"):
            part, value = part[:-2], [value]
        value = {part: value}
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("key", DROPPED + KEPT)
def test_cascade_gen_accepts_an_ignored_key_exactly_where_the_load_drops_it(
    key: str, tmp_path: Path
):
    # The load, through the contract `cascade gen` writes without the key ignored.
    plain = compile_ignoring(tmp_path / "plain", ())
    namespace: dict[str, object] = {}
    exec(plain.files["generated/schemas/app/events.py"], namespace)
    table = namespace["TABLE"]
    assert isinstance(table, TableContract)
    naming = DltSchema("events").naming
    converter = RecordConverter(table.schema, naming, "events", table.renamed_columns)
    converter([record_holding(key)])
    dropped = key in converter.problems.dropped

    accepted = compile_ignoring(tmp_path / "ignoring", (key,)).ok

    assert (accepted, dropped) == ((key in DROPPED),) * 2


def test_the_default_upkeep_is_the_decorators_and_cascade_maintains():
    from datetime import timedelta

    from cascade.compiler.cli import maintain
    from cascade.compiler.resolve.parameters import DEFAULT_MAINTENANCE, MAINTENANCE_OPTIONS
    from cascade.runtime.compaction import DEFAULT_MAX_FILE_ROWS
    from cascade.runtime.maintain import DEFAULT_ORPHAN_AGE, DEFAULT_RETENTION

    default = inspect.signature(cascade_ingestion).parameters["maintenance"].default
    assert default == DEFAULT_MAINTENANCE.cron
    assert DEFAULT_MAINTENANCE.retention_days == DEFAULT_RETENTION / timedelta(days=1)
    assert DEFAULT_MAINTENANCE.orphan_age_hours == DEFAULT_ORPHAN_AGE / timedelta(hours=1)
    assert DEFAULT_MAINTENANCE.target_file_size_mb is None
    assert DEFAULT_MAINTENANCE.max_file_rows is None  # compaction's DEFAULT_MAX_FILE_ROWS
    # `cascade maintain`'s flags: the same defaults, and the same lowest values.
    flags = {param.name: param for param in maintain.params}
    for option, (low, open_low, high, _) in MAINTENANCE_OPTIONS.items():
        flag = flags[option]
        assert flag.default == getattr(DEFAULT_MAINTENANCE, option), option
        assert (flag.type.min, flag.type.min_open) == (low, open_low), option  # type: ignore[attr-defined]
        assert high > low
    # The row cap: the same highest value, and the default both name is compaction's.
    assert flags["max_file_rows"].type.max == MAINTENANCE_OPTIONS["max_file_rows"][2]  # type: ignore[attr-defined]
    assert f"[default: {DEFAULT_MAX_FILE_ROWS}]" in str(flags["max_file_rows"].help)  # type: ignore[attr-defined]
    assert MAINTENANCE_OPTIONS["max_file_rows"][3].endswith(f": {DEFAULT_MAX_FILE_ROWS}")
    # The highest values are times datetime can still count back from now.
    now = datetime.now(UTC)
    now - timedelta(days=MAINTENANCE_OPTIONS["retention_days"][2])
    now - timedelta(hours=MAINTENANCE_OPTIONS["orphan_age_hours"][2])
