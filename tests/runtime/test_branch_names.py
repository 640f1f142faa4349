"""Which branch names a load, `cascade plan/apply --branch` and `cascade publish` accept."""

import pytest

from cascade.runtime.branch import branch_name_problem, check_branch_name
from cascade.runtime.errors import BranchError


@pytest.mark.parametrize(
    "name", ["main", "dev", "backfill/2024-01", "feature.x", "a-b_c", "v1.2", "ünïcode"]
)
def test_a_git_like_name_is_valid(name: str) -> None:
    assert branch_name_problem(name) is None
    check_branch_name(name)


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "it is empty"),
        (" dev", "whitespace"),
        ("dev\n", "whitespace"),
        ("de\x07v", "control character"),
        ("a..b", "'..'"),
        ("a//b", "'//'"),
        ("a@{1}", "'@{'"),
        ("a/.b", "a part starting with '.'"),
        ("/dev", "starts or ends with '/'"),
        ("dev/", "starts or ends with '/'"),
        (".dev", "starts or ends with '/' or '.'"),
        ("dev.", "starts or ends with '/' or '.'"),
        ("dev.lock", "ends with '.lock'"),
        ("HEAD", "reserved"),
        ("@", "reserved"),
        *((f"a{c}b", repr(c)) for c in "~^:?*[\\"),
    ],
)
def test_an_invalid_name_is_refused_naming_the_rule(name: str, rule: str) -> None:
    problem = branch_name_problem(name)
    assert problem is not None and rule in problem
    with pytest.raises(BranchError, match="is not a valid branch name") as refused:
        check_branch_name(name)
    assert rule in str(refused.value.description)
    assert refused.value.allow_retries is False
