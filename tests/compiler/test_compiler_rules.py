"""The compiler's own rules checked against the code they stand in for: the cron check against
Dagster's, the dlt-name check against dlt itself, the parameters it reads against the decorator
users import, and its check of `ignored_keys` against the load's routing of keys."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from dagster._utils.schedules import is_valid_cron_string
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.common.schema import Schema as DltSchema
from hypothesis import example, given
from hypothesis import strategies as st

from cascade.compiler import compile_project, load_config
from cascade.compiler.resolve.cron import cron_problem
from cascade.compiler.resolve.ingestions import PARAMETERS, REQUIRED_PARAMETERS
from cascade.compiler.resolve.naming import dlt_keeps
from cascade.runtime import cascade_ingestion
from cascade.runtime.contract import TableContract
from cascade.runtime.records import RecordConverter
from tests.helpers import CASES

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


def test_the_decorator_takes_exactly_the_parameters_the_compiler_reads():
    parameters = inspect.signature(cascade_ingestion).parameters
    assert sorted(parameters) == sorted(PARAMETERS)
    required = [name for name, p in parameters.items() if p.default is inspect.Parameter.empty]
    assert sorted(required) == sorted(REQUIRED_PARAMETERS)


# The model of tests/cases/params_ignored_keys: flattened columns, a struct, a list of structs,
# a map of structs, a renamed column.
IGNORED_KEYS_CASE = CASES / "params_ignored_keys"
INGESTION = """\
from cascade.runtime import cascade_ingestion
from cascade.runtime.contract import TableContract
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    ignored_keys={ignored_keys!r},
)
def events(partition_date: str):
    return None
"""
# Keys the load drops (and so may be ignored), then keys the table keeps (and may not be).
DROPPED = ["actor.url", "actor.avatarUrl", "org", "payload.commits", "place.geo", "track[].alt",
           "sites.value.elevation", "_dlt_id", "payload.Action_Id"]  # fmt: skip
KEPT = ["event_id", "eventId", "actor.login", "actor.Login", "title", "place.country",
        "place.Country", "track[].lat", "sites.value.lon", "sites.berlin", "track.alt",
        "label.first", "payload", "actor", "payload.action"]  # fmt: skip


def compile_ignoring(root: Path, ignored_keys: tuple[str, ...]):
    (root / "ingestion").mkdir(parents=True, exist_ok=True)
    (root / "models").mkdir(exist_ok=True)
    for path in ("pyproject.toml", "models/events.py"):
        (root / path).write_text((IGNORED_KEYS_CASE / path).read_text(encoding="utf-8"))
    (root / "ingestion/events.py").write_text(INGESTION.format(ignored_keys=ignored_keys))
    return compile_project(load_config(root), previous={})


def record_holding(key: str) -> dict:
    """A record holding the dotted `key` (`track[].alt` -> {"track": [{"alt": 1}]})."""
    value: object = 1
    for part in reversed(key.split(".")):
        while part.endswith("[]"):
            part, value = part[:-2], [value]
        value = {part: value}
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("key", DROPPED + KEPT)
def test_cascade_gen_accepts_an_ignored_key_exactly_where_the_load_drops_it(
    key: str, tmp_path: Path
):
    # The load, through the contract `cascade gen` writes without the key ignored.
    plain = compile_ignoring(tmp_path / "plain", ())
    namespace: dict[str, object] = {}
    exec(plain.files["generated/schemas/app/events.py"], namespace)
    table = namespace["TABLE"]
    assert isinstance(table, TableContract)
    naming = DltSchema("events").naming
    converter = RecordConverter(table.schema, naming, "events", table.renamed_columns)
    converter([record_holding(key)])
    dropped = key in converter.problems.dropped

    accepted = compile_ignoring(tmp_path / "ignoring", (key,)).ok

    assert (accepted, dropped) == ((key in DROPPED),) * 2
