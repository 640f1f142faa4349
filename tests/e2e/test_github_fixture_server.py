"""The GitHub fixture server, over real HTTP on 127.0.0.1."""

import json
import re
import select
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from examples.fixtures.github_server import (
    GitHubFixtureServer,
    event_count,
    events_for_day,
    repo_count,
    repos_for_day,
)
from tests.helpers import REPO_ROOT

USER = "octocat"
DAY = date(2024, 1, 3)  # 118 events: two pages of 100
LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


def day_params(day: date, **extra: object) -> dict:
    return {"since": f"{day}T00:00:00Z", "until": f"{day + timedelta(days=1)}T00:00:00Z", **extra}


def fetch(url: str, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def get(base_url: str, path: str, **params: object) -> tuple[object, dict[str, str]]:
    status, headers, body = fetch(f"{base_url}/{path}?{urlencode(params)}")
    assert status == 200, body
    return json.loads(body), links(headers)


def links(headers: dict[str, str]) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(headers.get("Link", ""))}


def follow(base_url: str, path: str, **params: object) -> tuple[list[dict], int]:
    """Every item of a list endpoint, following rel="next" like a client; and the page count."""
    items, pages = [], 0
    url: str | None = f"{base_url}/{path}?{urlencode(params)}"
    while url:
        status, headers, body = fetch(url)
        assert status == 200, body
        items += json.loads(body)
        pages += 1
        url = links(headers).get("next")
    return items, pages


@pytest.fixture
def server():
    with GitHubFixtureServer() as running:
        yield running


def test_a_day_of_events_is_served_newest_first_over_pages(server):
    assert event_count(USER, DAY) == 118
    events, pages = follow(server.url, f"users/{USER}/events", **day_params(DAY, per_page=50))
    assert pages == 3
    assert events == events_for_day(USER, DAY)
    stamps = [event["created_at"] for event in events]
    assert stamps == sorted(stamps, reverse=True)
    assert all(stamp.startswith("2024-01-03T") and stamp.endswith("Z") for stamp in stamps)
    ids = [event["id"] for event in events]
    assert len(set(ids)) == len(ids)
    assert all(isinstance(i, str) and i.isdigit() for i in ids)
    # Newer events have larger ids, as on GitHub.
    assert [int(i) for i in ids] == sorted((int(i) for i in ids), reverse=True)


def test_link_header_is_githubs_and_keeps_the_other_parameters(server):
    path = f"users/{USER}/events"
    first, first_links = get(server.url, path, **day_params(DAY, per_page=50))
    assert set(first_links) == {"next", "last"}
    query = parse_qs(urlsplit(first_links["next"]).query)
    assert query["page"] == ["2"] and query["per_page"] == ["50"]
    assert query["since"] == ["2024-01-03T00:00:00Z"]
    assert parse_qs(urlsplit(first_links["last"]).query)["page"] == ["3"]
    last, last_links = get(server.url, path, **day_params(DAY, per_page=50, page=3))
    assert set(last_links) == {"first", "prev"}
    assert len(first) == 50 and len(last) == 18
    beyond, beyond_links = get(server.url, path, **day_params(DAY, per_page=50, page=4))
    assert beyond == [] and "next" not in beyond_links


def test_per_page_defaults_to_30_and_is_capped_at_100(server):
    path = f"users/{USER}/events"
    assert len(get(server.url, path, **day_params(DAY))[0]) == 30
    assert len(get(server.url, path, **day_params(DAY, per_page=500))[0]) == 100


def test_the_window_is_half_open(server):
    day = events_for_day(USER, DAY)
    stamp = day[10]["created_at"]
    path = f"users/{USER}/events"
    since, until = f"{DAY}T00:00:00Z", f"{DAY + timedelta(days=1)}T00:00:00Z"
    starting, _ = follow(server.url, path, since=stamp, until=until, per_page=100)
    ending, _ = follow(server.url, path, since=since, until=stamp, per_page=100)
    assert starting == [event for event in day if event["created_at"] >= stamp]
    assert ending == [event for event in day if event["created_at"] < stamp]
    assert day[10] in starting and len(starting) + len(ending) == len(day)


def test_without_a_date_filter_it_lists_githubs_latest_300_events(server):
    server.ignore_date_filter = True
    events, _ = follow(server.url, f"users/{USER}/events", **day_params(DAY, per_page=100))
    assert len(events) == 300
    now = datetime.now(UTC)
    newest = datetime.fromisoformat(events[0]["created_at"])
    assert now - timedelta(days=2) < newest <= now
    # The newest events of yesterday, the whole of it as a day has at most 120 events.
    yesterday = events_for_day(USER, (now - timedelta(days=1)).date())
    assert all(event in events for event in yesterday)


def test_events_have_githubs_shape(server):
    events, _ = follow(server.url, f"users/{USER}/events", **day_params(DAY, per_page=100))
    push = next(event for event in events if event["type"] == "PushEvent")
    assert set(push) >= {"id", "type", "actor", "repo", "payload", "public", "created_at"}
    assert push["actor"]["login"] == USER and isinstance(push["actor"]["id"], int)
    assert push["repo"]["name"].startswith(f"{USER}/")
    assert len(push["payload"]["commits"]) == push["payload"]["size"] >= 1
    assert push["payload"]["repository_id"] == push["repo"]["id"]
    watch = next(event for event in events if event["type"] == "WatchEvent")
    assert watch["payload"] == {"action": "started"}
    # Activity in someone else's repository names its organisation.
    assert watch["org"]["login"] == watch["repo"]["name"].split("/")[0]
    assert "org" not in push


def test_repository_statistics_change_by_day(server):
    path = f"users/{USER}/repos"
    day1, _ = get(server.url, path, as_of="2024-01-01", per_page=100)
    day2, _ = get(server.url, path, as_of="2024-01-02", per_page=100)
    assert day1 == repos_for_day(USER, date(2024, 1, 1))
    assert len(day1) == len(day2) == repo_count(USER)
    assert [r["id"] for r in day1] == [r["id"] for r in day2]
    assert [r["full_name"] for r in day1] == sorted(r["full_name"] for r in day1)
    pairs = list(zip(day1, day2, strict=True))
    for before, after in pairs:
        assert after["stargazers_count"] >= before["stargazers_count"]
        assert after["watchers_count"] == after["stargazers_count"]
        assert after["created_at"] == before["created_at"]
    assert any(b["open_issues_count"] != a["open_issues_count"] for b, a in pairs)
    assert any(b["stargazers_count"] != a["stargazers_count"] for b, a in pairs)
    assert any(repo["pushed_at"] is None for repo in day1)
    assert any(repo["language"] is None for repo in day1)


def test_repository_list_pages_and_single_repository(server):
    repos, pages = follow(server.url, f"users/{USER}/repos", as_of="2024-01-01", per_page=3)
    assert pages == -(-repo_count(USER) // 3)
    assert repos == repos_for_day(USER, date(2024, 1, 1))
    one, _ = get(server.url, f"repos/{USER}/{repos[0]['name']}", as_of="2024-01-01")
    assert one == repos[0]
    status, _, _ = fetch(f"{server.url}/repos/{USER}/no-such-repo")
    assert status == 404


def test_overrides_patch_the_newest_event_of_a_day(server):
    server.overrides = {"2024-01-03": {"type": "NotAnEvent"}}
    events, _ = follow(server.url, f"users/{USER}/events", **day_params(DAY, per_page=100))
    original = events_for_day(USER, DAY)
    assert events[0] == {**original[0], "type": "NotAnEvent"}
    assert events[1:] == original[1:]


def test_injected_failures_delays_and_counting(server):
    url = f"{server.url}/users/{USER}/repos?as_of=2024-01-01"
    server.fail_next = 2
    assert fetch(url)[0] == 500
    assert fetch(url)[0] == 500
    assert fetch(url)[0] == 200
    assert server.request_count == 3
    server.delay_seconds = 0.5
    with pytest.raises(TimeoutError):
        urllib.request.urlopen(url, timeout=0.1)


@pytest.mark.parametrize(
    "path",
    [
        "users/octocat/events?since=yesterday",
        "users/octocat/events?per_page=0",
        "users/octocat/repos?as_of=2024-13-01",
        "users/octocat/repos?page=x",
    ],
)
def test_bad_parameters_are_a_400(server, path):
    status, _, body = fetch(f"{server.url}/{path}")
    assert status == 400
    assert "message" in json.loads(body)


def test_unknown_paths_are_a_404(server):
    status, _, body = fetch(f"{server.url}/orgs/octocat/events")
    assert status == 404
    assert json.loads(body) == {"message": "Not Found"}


@pytest.mark.slow
def test_cli_serves_the_same_bytes_as_another_process(server):
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.fixtures.github_server", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "the CLI did not print its URL"
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        path = f"/users/someone-else/events?{urlencode(day_params(DAY, per_page=100))}"
        assert fetch(url + path)[2] == fetch(server.url + path)[2]
        path = "/users/someone-else/repos?as_of=2024-06-30"
        assert fetch(url + path)[2] == fetch(server.url + path)[2]
    finally:
        process.terminate()
        process.wait(timeout=10)
