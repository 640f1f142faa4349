"""Pandera models of the GitHub data we ingest: the single source of truth for its shape.

Columns are named as dlt names GitHub's JSON: snake_case, nested objects flattened with `__`
(`actor.login` -> `actor__login`). Nested lists, such as a push's `payload.commits`, become
child tables of their own and are not columns of these tables.

A few fields spell `Optional[X]` rather than `X | None` on purpose: user projects write both,
and this example is what the compiler is checked against.
"""

from typing import Annotated, Optional

import pandas as pd
import pandera.pandas as pa
from pandera.pandas import Field

from examples.schemas.base import RawModel
from examples.schemas.constants import (
    GITHUB_EVENT_TYPES,
    GITHUB_PAYLOAD_ACTIONS,
    GITHUB_REF_TYPES,
    GITHUB_VISIBILITIES,
)

# GitHub logins are 1 to 39 characters; repository names are `owner/name`.
FULL_NAME_PATTERN = r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$"


class GitHubObject(RawModel):
    """Anything GitHub creates: it carries its creation time, in UTC."""

    created_at: Annotated[pd.DatetimeTZDtype, "ns", "UTC"] = Field(
        description="When GitHub created it (UTC)"
    )


class RawGitHubEvents(GitHubObject):
    """A user's public activity, as GET /users/{user}/events returns it."""

    # GitHub calls every object's id `id`: each attribute says whose id it is and alias= maps
    # it to the column. Event ids are digits but GitHub sends them as strings; keep them so.
    event_id: str = Field(
        alias="id", unique=True, str_matches=r"^[0-9]+$", description="Event id (digits)"
    )
    type: str = Field(isin=GITHUB_EVENT_TYPES, description="Event type, e.g. PushEvent")
    actor_id: int = Field(alias="actor__id", ge=1, description="Id of the user who acted")
    actor_login: str = Field(
        alias="actor__login",
        str_length={"min_value": 1, "max_value": 39},
        description="Login of the user who acted",
    )
    repo_id: int = Field(alias="repo__id", ge=1, description="Id of the repository acted on")
    repo_name: str = Field(
        alias="repo__name", str_matches=FULL_NAME_PATTERN, description="owner/name of the repo"
    )
    org_login: str | None = Field(
        alias="org__login", nullable=True, description="Organisation of the repository, if any"
    )
    public: bool = Field(description="Whether the event is public")
    payload_action: str | None = Field(
        alias="payload__action",
        isin=GITHUB_PAYLOAD_ACTIONS,
        nullable=True,
        description="What happened (opened, closed, started, ...), for the types that say",
    )
    payload_ref: str | None = Field(
        alias="payload__ref", nullable=True, description="Git ref pushed to, created or deleted"
    )
    payload_ref_type: str | None = Field(
        alias="payload__ref_type",
        isin=GITHUB_REF_TYPES,
        nullable=True,
        description="Kind of ref created or deleted",
    )
    payload_push_id: pa.Int64 | None = Field(
        alias="payload__push_id", ge=1, nullable=True, description="Id of the push"
    )
    payload_size: Optional[pa.Int32] = Field(  # noqa: UP045
        alias="payload__size", ge=0, nullable=True, description="Commits in the push"
    )
    payload_distinct_size: pa.Int32 | None = Field(
        alias="payload__distinct_size",
        ge=0,
        nullable=True,
        description="Commits in the push that are new to the repository",
    )
    payload_number: pa.Int32 | None = Field(
        alias="payload__number", ge=1, nullable=True, description="Pull request number"
    )

    class Config:
        name = "github_events"


class RawGitHubRepoStats(GitHubObject):
    """One row per repository and day: a user's repositories with their statistics, from
    GET /users/{user}/repos."""

    repo_id: pa.Int64 = Field(ge=1, description="Repository id")
    snapshot_date: pa.Date = Field(description="UTC day at whose end the statistics were taken")
    name: str = Field(str_length={"min_value": 1, "max_value": 100}, description="Repository name")
    full_name: str = Field(str_matches=FULL_NAME_PATTERN, description="owner/name")
    owner_login: str = Field(alias="owner__login", description="Login of the owner")
    description: str | None = Field(nullable=True, description="Description")
    language: str | None = Field(nullable=True, description="Main language, as GitHub detects it")
    license_spdx_id: str | None = Field(
        alias="license__spdx_id", nullable=True, description="SPDX id of the detected license"
    )
    visibility: str = Field(isin=GITHUB_VISIBILITIES, description="public, private or internal")
    default_branch: str = Field(description="Default branch")
    fork: bool = Field(description="Whether the repository is a fork")
    archived: bool = Field(description="Whether the repository is archived (read-only)")
    stargazers_count: pa.Int32 = Field(ge=0, description="Stars")
    watchers_count: pa.Int32 = Field(
        ge=0, description="Equal to stargazers_count: GitHub's REST API kept the old name"
    )
    forks_count: pa.Int32 = Field(ge=0, description="Forks")
    open_issues_count: pa.Int32 = Field(ge=0, description="Open issues and pull requests")
    size: pa.Int64 = Field(ge=0, description="Size in KiB")
    size_mb: pa.Decimal = Field(
        ge=0,
        dtype_kwargs={"precision": 10, "scale": 2},
        description="Size in MiB, rounded to two decimals",
    )
    forks_per_star: pa.Float32 | None = Field(
        ge=0, nullable=True, description="forks_count / stargazers_count; null without stars"
    )
    updated_at: Annotated[pd.DatetimeTZDtype, "ns", "UTC"] = Field(
        description="Last change to the repository or its metadata (UTC)"
    )
    pushed_at: Optional[Annotated[pd.DatetimeTZDtype, "ns", "UTC"]] = Field(  # noqa: UP045
        nullable=True, description="Last push (UTC); null when nobody pushed yet"
    )

    class Config:
        name = "github_repo_stats"
