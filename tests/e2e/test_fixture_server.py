"""The Nightscout fixture server, over real HTTP on 127.0.0.1."""

import json
import os
import re
import select
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

import pytest

from examples.fixtures.nightscout_server import NightscoutFixtureServer, entries_for_day
from tests.helpers import REPO_ROOT

DAY = date(2024, 1, 5)
DIRECTIONS = [
    "DoubleUp",
    "SingleUp",
    "FortyFiveUp",
    "Flat",
    "FortyFiveDown",
    "SingleDown",
    "DoubleDown",
]


def query(gte: str | None = None, lt: str | None = None, count: int | None = None) -> str:
    params = {
        "find[dateString][$gte]": gte,
        "find[dateString][$lt]": lt,
        "count": count,
    }
    return "entries.json?" + urlencode({k: v for k, v in params.items() if v is not None})


def day_query(day: date, count: int = 1000) -> str:
    return query(f"{day}T00:00:00.000Z", f"{day + timedelta(days=1)}T00:00:00.000Z", count)


def fetch(base_url: str, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"{base_url}/{path}", timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def entries(base_url: str, path: str) -> list[dict]:
    status, body = fetch(base_url, path)
    assert status == 200, body
    return json.loads(body)


@pytest.fixture
def server():
    with NightscoutFixtureServer() as running:
        yield running


def test_window_is_half_open_and_newest_first(server):
    got = entries(server.url, query("2024-01-01T00:00:00.000Z", "2024-01-01T01:00:00.000Z", 100))
    stamps = [entry["dateString"] for entry in got]
    assert stamps == [f"2024-01-01T00:{minute:02d}:00.000Z" for minute in range(55, -1, -5)]
    assert got == entries_for_day(date(2024, 1, 1))[:12][::-1]


def test_bounds_compare_as_instants(server):
    # 01:11+01:00 is 00:11 UTC, a bound between slots starts at the next slot, and a bound
    # without an offset is taken as UTC.
    got = entries(server.url, query("2024-01-01T00:02:30", "2024-01-01T01:11:00+01:00", 100))
    assert [entry["dateString"][11:16] for entry in got] == ["00:10", "00:05"]


def test_count_keeps_the_newest_and_defaults_to_ten(server):
    got = entries(server.url, query("2024-01-01T00:00:00.000Z", "2024-01-01T01:00:00.000Z", 3))
    assert [entry["dateString"][11:16] for entry in got] == ["00:55", "00:50", "00:45"]
    got = entries(server.url, query("2024-01-01T00:00:00.000Z", "2024-01-01T12:00:00.000Z"))
    assert len(got) == 10
    assert got[0]["dateString"] == "2024-01-01T11:55:00.000Z"


def test_missing_lower_bound_reaches_into_previous_days(server):
    got = entries(server.url, query(lt="2024-01-02T00:10:00.000Z", count=4))
    stamps = [entry["dateString"] for entry in got]
    assert stamps == [
        "2024-01-02T00:05:00.000Z",
        "2024-01-02T00:00:00.000Z",
        "2024-01-01T23:55:00.000Z",
        "2024-01-01T23:50:00.000Z",
    ]


def test_whole_day_has_288_well_formed_unique_entries(server):
    got = entries(server.url, day_query(DAY))
    assert got == entries_for_day(DAY)[::-1]
    assert len(got) == 288
    assert len({entry["_id"] for entry in got}) == 288
    day_start_ms = int(datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC).timestamp()) * 1000
    for index, entry in enumerate(reversed(got)):
        assert re.fullmatch(r"[0-9a-f]{24}", entry["_id"])
        assert entry["date"] == day_start_ms + index * 300_000
        assert entry["dateString"] == entry["sysTime"]
        assert re.fullmatch(rf"{DAY}T\d\d:\d[05]:00\.000Z", entry["dateString"])
        assert isinstance(entry["sgv"], int) and 40 <= entry["sgv"] <= 400
        assert entry["direction"] in DIRECTIONS and 0 <= entry["trend"] <= 9
        assert (entry["type"], entry["utcOffset"], entry["device"]) == ("sgv", 0, "xDrip-DexcomG6")
    # The data should look like glucose, not a constant.
    assert len({entry["sgv"] for entry in got}) > 50


def test_two_servers_give_identical_bytes():
    path = day_query(DAY, count=50)
    with NightscoutFixtureServer() as first, NightscoutFixtureServer() as second:
        assert first.url != second.url
        assert fetch(first.url, path) == fetch(second.url, path)


def test_override_patches_only_the_first_entry_of_that_day():
    with NightscoutFixtureServer(overrides={str(DAY): {"sgv": 5000}}) as server:
        got = entries(server.url, day_query(DAY))[::-1]
        expected = entries_for_day(DAY)
        assert got[0] == {**expected[0], "sgv": 5000}
        assert got[1:] == expected[1:]
        neighbours = entries(server.url, day_query(DAY - timedelta(days=1)))
        assert neighbours == entries_for_day(DAY - timedelta(days=1))[::-1]

        # Overrides are read per request, so tests can change them on a running server.
        server.overrides = {}
        assert entries(server.url, day_query(DAY))[::-1] == expected


def test_fail_next_fails_once_then_recovers(server):
    path = day_query(DAY, count=5)
    server.fail_next = 1
    status, body = fetch(server.url, path)
    assert status == 500
    assert json.loads(body)["status"] == 500
    assert fetch(server.url, path)[0] == 200
    assert server.request_count == 2


def test_delay_and_unknown_paths(server):
    server.delay_seconds = 0.3
    started = time.monotonic()
    status, body = fetch(server.url, "treatments.json")
    assert time.monotonic() - started >= 0.3
    assert status == 404
    assert json.loads(body)["status"] == 404


@pytest.mark.slow
def test_cli_prints_url_and_serves_same_bytes_quietly():
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.fixtures.nightscout_server", "--port", "0"],
        cwd=REPO_ROOT,
        # Without PYTHONUNBUFFERED the URL only arrives if the server flushes it itself.
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Guard the read so a server that never prints fails the test instead of hanging it.
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the server printed nothing"
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1", url)
        assert not url.endswith(":0/api/v1")
        path = day_query(DAY, count=20)
        with NightscoutFixtureServer() as local:
            # Another process must give the same bytes, so runs are reproducible anywhere.
            assert fetch(url, path) == fetch(local.url, path)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert stderr == ""
