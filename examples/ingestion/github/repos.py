"""GitHub repository statistics ingestion: one row per repository and day."""

import os
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import dlt
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator

from cascade.runtime import cascade_ingestion
from examples.schemas.github import RawGitHubRepoStats


@dlt.resource(name="repo_stats", primary_key=("repo_id", "snapshot_date"))
def repo_stats(base_url: str, user: str, snapshot_date: date, token: str | None) -> Iterator[dict]:
    """The statistics of every repository `user` owns, as a snapshot for `snapshot_date`.

    GitHub returns the statistics as they are now: run on the day to snapshot it (the cron
    below). `as_of` is not a GitHub parameter; the fixture server answers it so that any past
    day can be loaded reproducibly, and GitHub ignores it.
    """
    client = RESTClient(
        base_url=base_url,
        headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
        auth=BearerTokenAuth(token) if token else None,
        paginator=HeaderLinkPaginator(),
    )
    params = {"type": "owner", "per_page": 100, "as_of": snapshot_date.isoformat()}
    for page in client.paginate(f"users/{user}/repos", params=params):
        for repo in page:
            stars, forks = repo["stargazers_count"], repo["forks_count"]
            yield {
                # A row is a (repository, day) pair: GitHub's `id` is the repository's.
                "repo_id": repo["id"],
                "snapshot_date": snapshot_date,
                "created_at": repo["created_at"],
                "name": repo["name"],
                "full_name": repo["full_name"],
                # Nested objects are kept: dlt flattens them to owner__login, license__spdx_id.
                "owner": {"login": repo["owner"]["login"]},
                "description": repo["description"],
                "language": repo["language"],
                # Always an object, so that dlt never sees a bare `license` column of nulls.
                "license": {"spdx_id": (repo["license"] or {}).get("spdx_id")},
                "visibility": repo["visibility"],
                "default_branch": repo["default_branch"],
                "fork": repo["fork"],
                "archived": repo["archived"],
                "stargazers_count": stars,
                "watchers_count": repo["watchers_count"],
                "forks_count": forks,
                "open_issues_count": repo["open_issues_count"],
                "size": repo["size"],
                "size_mb": (Decimal(repo["size"]) / 1024).quantize(Decimal("0.01")),
                "forks_per_star": forks / stars if stars else None,
                "updated_at": repo["updated_at"],
                "pushed_at": repo["pushed_at"],
            }


@cascade_ingestion(
    table_name="github_repo_stats",
    unique_key=("repo_id", "snapshot_date"),
    validation_schema=RawGitHubRepoStats,
    group="github",
    # A handful of rows a day: month partitions keep files few, and buckets keep a
    # repository's history together as the number of repositories grows.
    partition_spec=[("snapshot_date", "month"), ("repo_id", "bucket[8]")],
    cron="50 23 * * *",  # just before the UTC day ends, so the snapshot describes that day
    freshness_hours=(25, 49),
    max_runtime_seconds=120,
    max_retries=2,
    retry_delay_seconds=300,
)
def github_repo_stats(partition_date: str):
    """Daily statistics (stars, forks, open issues, size) of a GitHub user's repositories."""
    base_url = os.environ.get("GITHUB_API_BASE_URL", "https://api.github.com")
    user = os.environ.get("GITHUB_USER", "octocat")
    token = os.environ.get("GITHUB_TOKEN")
    return repo_stats(base_url, user, date.fromisoformat(partition_date), token)
