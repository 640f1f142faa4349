from cascade.runtime import cascade_ingestion
from models.readings import Readings


@cascade_ingestion(
    table_name="hourly_daily_cron", unique_key="reading_id", validation_schema=Readings,
    group="g", partitions="hourly", cron="0 6 * * *",
)
def hourly_daily_cron(partition_hour: str):
    return None


@cascade_ingestion(
    table_name="hourly_working_hours", unique_key="reading_id", validation_schema=Readings,
    group="g", partitions="hourly", cron="*/10 8-18 * * *",
)
def hourly_working_hours(partition_hour: str):
    return None


@cascade_ingestion(
    table_name="daily_weekdays", unique_key="reading_id", validation_schema=Readings,
    group="g", cron="0 6 * * mon-fri",
)
def daily_weekdays(partition_date: str):
    """The default, daily partitions: weekends have no tick."""
    return None


@cascade_ingestion(
    table_name="weekly_monthly_cron", unique_key="reading_id", validation_schema=Readings,
    group="g", partitions="weekly", cron="0 6 1 * *",
)
def weekly_monthly_cron(week_start: str):
    return None


@cascade_ingestion(
    table_name="monthly_yearly_cron", unique_key="reading_id", validation_schema=Readings,
    group="g", partitions="monthly", cron="@yearly",
)
def monthly_yearly_cron(month_start: str):
    return None


@cascade_ingestion(
    table_name="monthly_on_the_31st", unique_key="reading_id", validation_schema=Readings,
    group="g", partitions="monthly", cron="0 0 31 * *",
)
def monthly_on_the_31st(month_start: str):
    """Months of 30 days or fewer have no 31st."""
    return None


@cascade_ingestion(
    table_name="fine_weekly", unique_key="reading_id", validation_schema=Readings,
    group="g", partitions="weekly", cron="0 0 1-7,8-14,15-21,22-28,29-31 * *",
)
def fine_weekly(week_start: str):
    """Every day of every month: every week has ticks (no diagnostic)."""
    return None


@cascade_ingestion(
    table_name="snapshot_yearly", unique_key="reading_id", validation_schema=Readings,
    group="g", partitions=None, cron="@yearly",
)
def snapshot_yearly():
    """Whole-table loads: any cron will do (no diagnostic)."""
    return None
