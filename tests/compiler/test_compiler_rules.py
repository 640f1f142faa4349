"""The compiler's own rules checked against the libraries they stand in for: the cron check
against Dagster's and the dlt-name check against dlt itself."""

from __future__ import annotations

import pytest
from dagster._utils.schedules import is_valid_cron_string
from dlt.common.normalizers.naming.snake_case import NamingConvention
from hypothesis import example, given
from hypothesis import strategies as st

from cascade.compiler.resolve.cron import cron_problem
from cascade.compiler.resolve.naming import dlt_keeps

CRONS = [
    "0 */1 * * *", "30 6 * * mon-fri", "*/15 * * * *", "0 0 1 1 *", "0 0 * * 7", "5,10 1-3 * * *",
    "0 12 * jan,jul sun", "@daily", "@hourly", "0 25 * * *", "60 * * * *", "0 0 32 * *",
    "0 0 * 13 *", "0 0 * * 8", "* * * *", "* * * * * *", "0 5-1 * * *", "0 */0 * * *",
    "0 0 * * funday", "abc", "", "0 0 0 * *", "1-2-3 * * * *", "0 22-2 * * *", "0 0 * * 0-7",
]  # fmt: skip


@pytest.mark.parametrize("expression", CRONS)
def test_cron_check_agrees_with_dagster(expression: str):
    assert (cron_problem(expression) is None) == is_valid_cron_string(expression), expression


NAME_ALPHABET = st.sampled_from(list("abcxyzABZ019_- .é"))


@given(st.text(NAME_ALPHABET, min_size=1, max_size=12))
@example("address__2")  # dlt: address___2 (each part of a path is normalised on its own)
@example("a__b")
@example("a___b")
@example("_id")
@example("dateString")
def test_dlt_keeps_exactly_the_names_dlt_leaves_unchanged(name: str):
    assert dlt_keeps(name) == (NamingConvention().normalize_path(name) == name)
