"""The automation of generated assets, evaluated by Dagster itself
(`dg.evaluate_automation_conditions`) at chosen instants, as the daemon would tick."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from cascade.runtime.automation import load_on_cron

PARTITIONS = {
    "hourly": dg.HourlyPartitionsDefinition(start_date="2024-01-01-00:00", end_offset=1),
    "daily": dg.DailyPartitionsDefinition(start_date="2024-01-01", end_offset=1),
    "weekly": dg.WeeklyPartitionsDefinition(start_date="2024-01-07", end_offset=1),
    "monthly": dg.MonthlyPartitionsDefinition(start_date="2024-01-01", end_offset=1),
}


WHOLE_TABLE = "(unpartitioned)"  # what `requests` lists for a request of an unpartitioned asset


def requests(
    defs: dg.Definitions,
    start: datetime,
    every: timedelta,
    count: int,
    fails: Callable[[datetime], bool] = lambda instant: False,
) -> Iterator[tuple[datetime, list[str]]]:
    """(instant, partition keys requested, or WHOLE_TABLE) at `count` evaluations `every`
    apart, one cursor carried from each to the next as the daemon does. What is requested is
    then loaded (its materialization recorded, as a run's is), unless `fails(instant)`."""
    instance = dg.DagsterInstance.ephemeral()
    cursor = None
    for step in range(count):
        instant = start + step * every
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.BetaWarning)
            result = dg.evaluate_automation_conditions(
                defs=defs, instance=instance, cursor=cursor, evaluation_time=instant
            )
        cursor = result.cursor
        keys = []
        for asset_result in result.results:
            subset = asset_result.true_subset
            if subset.is_partitioned:
                requested = list(subset.expensively_compute_partition_keys())
            else:
                requested = [] if subset.is_empty else [None]
            if not fails(instant):
                for key in requested:
                    instance.report_runless_asset_event(
                        dg.AssetMaterialization(asset_result.key, partition=key)
                    )
            keys += [WHOLE_TABLE if key is None else key for key in requested]
        yield instant, sorted(keys)


def asset_with(partitions: str, cron: str) -> dg.Definitions:
    @dg.asset(
        partitions_def=PARTITIONS[partitions], automation_condition=load_on_cron(cron, partitions)
    )
    def table() -> None: ...

    return dg.Definitions(assets=[table])


def day(instant: datetime, days_before: int = 0) -> str:
    return (instant - timedelta(days=days_before)).date().isoformat()


def test_an_hourly_cron_on_daily_partitions_loads_today_and_yesterday_once_more() -> None:
    # The example's settings (phlo's decorator's): cron "0 */1 * * *", daily partitions; the
    # asset as generated.
    from generated.definitions import defs

    glucose = dg.Definitions(
        assets=[defs.get_assets_def("dlt_glucose_entries")], resources=defs.resources
    )
    start = datetime(2024, 3, 5, 21, 7, tzinfo=UTC)
    seen = list(requests(glucose, start, timedelta(minutes=30), 2 * 27 * 2))
    first_tick = start + timedelta(minutes=60)
    for instant, keys in seen:
        if instant.minute == 37 or instant < first_tick:
            expected = []  # no tick of the cron since the last evaluation
        elif instant.hour == 0 or instant == first_tick:
            expected = [day(instant, 1), day(instant)]  # yesterday once more, and today
        else:
            expected = [day(instant)]  # today, the partition in progress
        assert keys == expected, instant
    # Every hour of the two whole days in between loaded its day, and each day closed once.
    loaded = [key for _, keys in seen for key in keys]
    assert loaded.count("2024-03-06") == 24 + 1


def every_minutes(n: int) -> Callable[[datetime], bool]:
    return lambda t: t.minute % n == 0 and (n < 60 or t.hour % (n // 60) == 0)


def at_six(t: datetime) -> bool:
    return t.hour == 6 and t.minute == 0


def midnight(t: datetime) -> bool:
    return t.hour == t.minute == 0


# partitions -> (a cron finer than them, when a tick of it falls, when a partition begins)
FINER_CRONS: dict[str, tuple[str, Callable[[datetime], bool], Callable[[datetime], bool]]] = {
    "hourly": ("*/15 * * * *", every_minutes(15), lambda t: t.minute == 0),
    "daily": ("0 */6 * * *", every_minutes(6 * 60), midnight),
    "weekly": ("0 6 * * *", at_six, lambda t: midnight(t) and t.isoweekday() == 7),
    "monthly": ("0 6 * * *", at_six, lambda t: midnight(t) and t.day == 1),
}


@pytest.mark.parametrize("partitions", sorted(FINER_CRONS))
def test_each_granularity_loads_the_partition_in_progress_and_the_closed_one_once(
    partitions: str,
) -> None:
    cron, is_tick, begins_partition = FINER_CRONS[partitions]
    partitions_def = PARTITIONS[partitions]
    every = {"hourly": timedelta(minutes=5)}.get(partitions, timedelta(hours=1))
    start = datetime(2024, 2, 27, 21, 2, tzinfo=UTC)  # a leap February's end, then March
    count = {"hourly": 60, "daily": 80, "weekly": 24 * 10, "monthly": 24 * 6}[partitions]

    def key(instant: datetime, back: int = 0) -> str:
        window = partitions_def.time_window_for_partition_key(
            partitions_def.get_partition_key_for_timestamp(instant.timestamp())
        )
        for _ in range(back):
            window = partitions_def.time_window_for_partition_key(
                partitions_def.get_partition_key_for_timestamp(
                    (window.start - timedelta(seconds=1)).timestamp()
                )
            )
        return partitions_def.get_partition_key_for_timestamp(window.start.timestamp())

    previous: datetime | None = None
    closed_since_tick = True  # automation turned on: the closed partition is loaded once
    for instant, keys in requests(asset_with(partitions, cron), start, every, count):
        minutes = []
        if previous is not None:
            minute = previous.replace(second=0) + timedelta(minutes=1)
            while minute <= instant:
                minutes.append(minute)
                minute += timedelta(minutes=1)
        closed_since_tick = closed_since_tick or any(begins_partition(m) for m in minutes)
        expected = []
        if any(is_tick(m) for m in minutes):
            expected = [key(instant)]
            if closed_since_tick:
                expected.append(key(instant, 1))
            closed_since_tick = False
        assert keys == sorted(expected), instant
        previous = instant


def test_without_partitions_the_whole_table_is_loaded_at_each_tick() -> None:
    @dg.asset(automation_condition=load_on_cron("0 6,18 * * *", partitions=None))
    def snapshot() -> None: ...

    start = datetime(2024, 3, 5, 4, 7, tzinfo=UTC)
    seen = list(requests(dg.Definitions(assets=[snapshot]), start, timedelta(hours=1), 2 * 24))
    requested = [instant for instant, keys in seen if keys]
    # The first evaluation after each tick at 06:00 and 18:00, and no other.
    assert [(t.day, t.hour) for t in requested] == [(5, 6), (5, 18), (6, 6), (6, 18)]
    assert all(keys == [WHOLE_TABLE] for instant, keys in seen if instant in requested)


def test_a_failed_load_of_the_closed_partition_is_requested_again() -> None:
    # Dagster's single-run backfill policy loads yesterday's last reload and today's first in
    # one run; when that run fails (for today's sake, say), yesterday is asked for again.
    glucose = asset_with("daily", "0 */1 * * *")
    start = datetime(2024, 3, 5, 22, 7, tzinfo=UTC)
    midnight_tick = datetime(2024, 3, 6, 0, 7, tzinfo=UTC)
    seen = dict(
        requests(glucose, start, timedelta(hours=1), 6, fails=lambda at: at == midnight_tick)
    )
    assert seen[midnight_tick] == ["2024-03-05", "2024-03-06"]  # ... and the run fails
    assert seen[midnight_tick + timedelta(hours=1)] == ["2024-03-05", "2024-03-06"]
    assert seen[midnight_tick + timedelta(hours=2)] == ["2024-03-06"]  # loaded at 01:07
