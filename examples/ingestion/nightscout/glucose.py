"""Nightscout glucose data ingestion."""

import os
from datetime import date, timedelta

from dlt.sources.rest_api import rest_api_source

from cascade.runtime import cascade_ingestion
from examples.schemas.nightscout import RawGlucoseEntries


@cascade_ingestion(
    table_name="glucose_entries",
    unique_key="_id",
    validation_schema=RawGlucoseEntries,
    group="nightscout",
    partition_spec=[("date_string", "day")],
    cron="0 */1 * * *",
    freshness_hours=(1, 24),
    max_runtime_seconds=300,
    max_retries=3,
    retry_delay_seconds=30,
)
def glucose_entries(partition_date: str):
    """Glucose readings from Nightscout, one daily partition per UTC day."""
    # The public demo instance unless NIGHTSCOUT_BASE_URL points elsewhere (the fixture
    # server on 127.0.0.1 in the quick start and the tests).
    base_url = os.environ.get("NIGHTSCOUT_BASE_URL", "https://gwp-diabetes.fly.dev/api/v1")
    start = date.fromisoformat(partition_date)
    end = start + timedelta(days=1)
    # phlo's examples call `rest_api({...})`: in current dlt the one-dict form is `rest_api_source`
    # (`rest_api` itself now takes client= and resources= as separate arguments).
    return rest_api_source(
        {
            "client": {
                "base_url": base_url,
            },
            "resources": [
                {
                    "name": "entries",
                    "endpoint": {
                        "path": "entries.json",
                        "params": {
                            "count": 10000,
                            "find[dateString][$gte]": f"{start.isoformat()}T00:00:00.000Z",
                            "find[dateString][$lt]": f"{end.isoformat()}T00:00:00.000Z",
                        },
                        "paginator": "single_page",
                    },
                }
            ],
        }
    )
