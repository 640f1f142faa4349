from cascade.runtime import cascade_ingestion
from models.readings import Readings

GRANULARITY = "hourly"


@cascade_ingestion(
    table_name="misspelt", unique_key="reading_id", validation_schema=Readings, group="g",
    partitions="hour",
)
def misspelt(partition_hour: str):
    return None


@cascade_ingestion(
    table_name="capitals", unique_key="reading_id", validation_schema=Readings, group="g",
    partitions="Daily",
)
def capitals(partition_date: str):
    return None


@cascade_ingestion(
    table_name="yearly", unique_key="reading_id", validation_schema=Readings, group="g",
    partitions="yearly",
)
def yearly(partition_date: str):
    return None


@cascade_ingestion(
    table_name="not_a_string", unique_key="reading_id", validation_schema=Readings, group="g",
    partitions=24,
)
def not_a_string(partition_date: str):
    return None


@cascade_ingestion(
    table_name="a_name", unique_key="reading_id", validation_schema=Readings, group="g",
    partitions=GRANULARITY,
)
def a_name(partition_hour: str):
    return None


@cascade_ingestion(
    table_name="hostile", unique_key="reading_id", validation_schema=Readings, group="g",
    partitions="daily\"), import os  # \n",
)
def hostile(partition_date: str):
    return None


@cascade_ingestion(
    table_name="misspelt_parameter", unique_key="reading_id", validation_schema=Readings,
    group="g", partition="hourly",
)
def misspelt_parameter(partition_hour: str):
    return None
