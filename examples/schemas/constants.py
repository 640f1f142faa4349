"""Allowed values that the models check with `isin=`, kept apart so that models, ingestions and
tests share one list."""

# https://docs.github.com/en/rest/using-the-rest-api/github-event-types
GITHUB_EVENT_TYPES = [
    "CommitCommentEvent",
    "CreateEvent",
    "DeleteEvent",
    "ForkEvent",
    "GollumEvent",
    "IssueCommentEvent",
    "IssuesEvent",
    "MemberEvent",
    "PublicEvent",
    "PullRequestEvent",
    "PullRequestReviewEvent",
    "PullRequestReviewCommentEvent",
    "PullRequestReviewThreadEvent",
    "PushEvent",
    "ReleaseEvent",
    "SponsorshipEvent",
    "WatchEvent",
]

# `payload.action` across the event types above.
GITHUB_PAYLOAD_ACTIONS = [
    "opened",
    "edited",
    "closed",
    "reopened",
    "assigned",
    "unassigned",
    "labeled",
    "unlabeled",
    "created",
    "deleted",
    "published",
    "started",
    "added",
    "resolved",
    "unresolved",
]

# `payload.ref_type` of CreateEvent and DeleteEvent.
GITHUB_REF_TYPES = ["branch", "tag", "repository"]

GITHUB_VISIBILITIES = ["public", "private", "internal"]
