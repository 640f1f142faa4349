"""When Dagster's automation loads a Cascade asset: at every tick of the ingestion's cron, the
partition in progress (today's, with daily partitions), and the one before it once more after
it closes, so that rows the source added to a partition after its last load are not missed; an
unpartitioned asset (`partitions=None`), the whole table at every tick.

Dagster's `AutomationCondition.on_cron` requests only the latest partition of the asset's
partitions definition. Cascade's partitions end with the partition in progress (`end_offset=1`),
so on_cron alone would load today and never see the last hours of yesterday again; without the
offset (phlo's decorator) it loads yesterday again and again and never today.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

# Per partition granularity: the cron of its boundaries (Dagster's defaults: hours on the
# hour, days at midnight UTC, weeks on Sunday, months on the 1st) and the look-back from the
# end of the partition in progress that takes in the one before it too. Dagster takes the
# partitions that lie wholly in the look-back, so it is the length of the two longest
# neighbours (31 + 31 days for months) and shorter than any three.
PARTITION_BOUNDARIES: dict[str, tuple[str, timedelta]] = {
    "hourly": ("0 * * * *", timedelta(hours=2)),
    "daily": ("0 0 * * *", timedelta(days=2)),
    "weekly": ("0 0 * * 0", timedelta(days=14)),
    "monthly": ("0 0 1 * *", timedelta(days=62)),
}


def load_on_cron(cron: str, partitions: str | None = "daily") -> dg.AutomationCondition:
    """The automation condition of a Cascade asset with `partitions` ("hourly", "daily",
    "weekly" or "monthly" time partitions ending with the one in progress, or None for an
    unpartitioned asset) and a 5-field `cron`, evaluated by Dagster's daemon (`dagster dev`,
    or a deployment's):

    - at each tick of `cron`, the partition in progress is requested;
    - the partition before it is requested at each tick of `cron` after it closed until a load
      of it after its close has succeeded (once, unless that load fails: a run that also loads
      the new partition, as Dagster's single-run backfill policy makes it, may fail for the new
      partition's sake); when automation is turned on, at its first tick too;
    - without partitions, the asset is requested at each tick.

    The compiler makes sure that `cron` ticks in every partition (compiler/resolve/cron.py):
    a partition without a tick would not be loaded once it is complete. Raises KeyError for
    another `partitions`.
    """
    ticked = dg.AutomationCondition.cron_tick_passed(cron)
    if partitions is None:
        return ticked.with_label(f"Cascade: load the whole table on cron {cron}")
    boundary, lookback = PARTITION_BOUNDARIES[partitions]
    in_progress = dg.AutomationCondition.in_latest_time_window()
    previous = (dg.AutomationCondition.in_latest_time_window(lookback) & ~in_progress).with_label(
        "previous partition"
    )
    closed = dg.AutomationCondition.cron_tick_passed(boundary).with_label("partition closed")
    # A load recorded in the evaluation that sees the close ran before it: it does not count
    # (and Dagster's `since` would count it, the trigger and the reset being simultaneous).
    loaded = (dg.AutomationCondition.newly_updated() & ~closed).with_label("loaded after close")
    loaded_since_closed = loaded.since(closed)
    return (
        (in_progress & ticked).with_label(f"partition in progress, on cron {cron}")
        | (previous & ticked & ~loaded_since_closed).with_label(
            f"previous partition, until loaded after it closed, on cron {cron}"
        )
    ).with_label(f"Cascade: load on cron {cron}")
