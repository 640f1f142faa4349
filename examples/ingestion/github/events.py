"""GitHub user events ingestion."""

import os
from datetime import date, timedelta

from dlt.sources.rest_api import rest_api_source

from cascade.runtime import cascade_ingestion
from examples.schemas.github import RawGitHubEvents


@cascade_ingestion(
    table_name="github_events",
    unique_key="id",
    validation_schema=RawGitHubEvents,
    group="github",
    partition_spec=[("created_at", "day")],
    # GitHub keeps only a user's latest 300 events, so an active user's day must be read
    # while it is still among them: hourly, a little after the hour.
    cron="15 * * * *",
    freshness_hours=(2, 26),
    max_runtime_seconds=600,
    # Server errors and secondary rate limits (403/429) pass within minutes: retry a few
    # times, two minutes apart.
    max_retries=5,
    retry_delay_seconds=120,
    validate=True,
    # What GitHub sends and the table does not keep, dropped without a warning: links,
    # avatars, the organisation's id (its login is kept), and what single event types carry
    # in their payload (commits, issues, pull requests: each a table of its own if wanted).
    # Any other key the model does not have is dropped with a warning that names it.
    ignored_keys=(
        "actor.avatar_url",
        "actor.display_login",
        "actor.gravatar_id",
        "actor.url",
        "org.id",
        "repo.url",
        "payload.before",
        "payload.comment",
        "payload.commits",
        "payload.description",
        "payload.forkee",
        "payload.head",
        "payload.issue",
        "payload.master_branch",
        "payload.pull_request",
        "payload.pusher_type",
        "payload.repository_id",
    ),
)
def github_events(partition_date: str):
    """Public events of a GitHub user, one daily partition per UTC day of `created_at`."""
    # The real API unless GITHUB_API_BASE_URL points elsewhere (the fixture server on
    # 127.0.0.1 in the tests). A token raises the rate limit from 60 to 5000 requests an hour.
    base_url = os.environ.get("GITHUB_API_BASE_URL", "https://api.github.com")
    user = os.environ.get("GITHUB_USER", "octocat")
    token = os.environ.get("GITHUB_TOKEN")
    day = date.fromisoformat(partition_date)
    client: dict = {
        "base_url": base_url,
        "headers": {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
        "paginator": "header_link",  # GitHub's `Link: <...>; rel="next"`
    }
    if token:
        client["auth"] = {"type": "bearer", "token": token}
    return rest_api_source(
        {
            "client": client,
            "resources": [
                {
                    "name": "events",
                    "endpoint": {
                        "path": f"users/{user}/events",
                        "params": {
                            "per_page": 100,  # GitHub's maximum: fewest requests
                            # Not GitHub parameters: the fixture server serves one day with
                            # them; GitHub ignores them and returns its latest events.
                            "since": f"{day.isoformat()}T00:00:00Z",
                            "until": f"{(day + timedelta(days=1)).isoformat()}T00:00:00Z",
                        },
                    },
                    # So the partition holds only its own day whatever the server returns.
                    "processing_steps": [
                        {"filter": lambda event: event["created_at"].startswith(partition_date)}
                    ],
                }
            ],
        }
    )
