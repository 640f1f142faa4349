"""The rules a schema change is classified by: stable codes, severities, one-line reasons.

Plain data without pyiceberg, so that the compiler can check the codes an ingestion's
`allow_breaking=(...)` names. Safe changes leave every data file readable as it is; breaking
ones would lose data, make old files unreadable, or change what a row means, and need an
explicit allowance (`allow_breaking=("CAS201:old_column",)` in the decorator).
"""

from dataclasses import dataclass

SAFE = "safe"
BREAKING = "breaking"


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: str
    summary: str
    hint: str = ""  # what to do instead, for the breaking ones
    # A breaking change Iceberg can carry out, so that `allow_breaking` may accept it; the
    # others (a cross-family type change, a required column on a table with rows, a reused
    # id) no table can take.
    allowable: bool = False


# The codes are stable: CI configurations and allowances in user code refer to them.
RULES = {
    rule.code: rule
    for rule in (
        Rule("CAS100", "table-added", SAFE, "a new table"),
        # No table changes and no data is lost: the table stays in the catalog as it is.
        Rule("CAS108", "table-removed", SAFE, "nothing loads the table any more"),
        Rule("CAS101", "column-added", SAFE, "an optional column or struct field is added"),
        Rule("CAS102", "type-widened", SAFE, "int->long, float->double, or more decimal digits"),
        Rule("CAS103", "made-optional", SAFE, "a required field becomes optional"),
        Rule("CAS104", "doc-changed", SAFE, "a field's description changes"),
        Rule("CAS105", "column-renamed", SAFE, "a field keeps its id under a new name"),
        Rule("CAS106", "partitioning-changed", SAFE, "old files keep their spec and stay readable"),
        Rule("CAS107", "column-moved", SAFE, "fields are listed in another order"),
        # A table made before Cascade recorded its key, or adopted: only metadata changes.
        Rule(
            "CAS109",
            "identifier-fields-set",
            SAFE,
            "the unique key is recorded as the table's identifier fields",
        ),
        Rule(
            "CAS201",
            "column-dropped",
            BREAKING,
            "a field and its data are no longer read",
            "keep the field (optional) or allow the drop",
            allowable=True,
        ),
        Rule(
            "CAS202",
            "type-changed",
            BREAKING,
            "a narrowing or cross-family type change",
            "add a column of the new type under a new name instead",
        ),
        Rule(
            "CAS203",
            "made-required",
            BREAKING,
            "an optional field becomes required",
            "keep it optional and check for nulls in the Pandera model",
            allowable=True,
        ),
        Rule(
            "CAS204",
            "required-column-added",
            BREAKING,
            "existing rows have no value for it",
            "add it as optional (`X | None` in the model)",
        ),
        Rule(
            "CAS205",
            "retired-id-reused",
            BREAKING,
            "old files would be read as the new field",
            "run `cascade gen`; never edit generated ids by hand",
        ),
        Rule(
            "CAS206",
            "unique-key-changed",
            BREAKING,
            "merges would match rows differently",
            allowable=True,
        ),
        Rule(
            "CAS207",
            "partition-source-dropped",
            BREAKING,
            "a partition's source is dropped",
            allowable=True,
        ),
    )
}


@dataclass(frozen=True)
class Change:
    code: str
    subject: str  # the field path, or "table", "partitioning", "unique_key"
    reason: str  # one line
    field_id: int | None = None

    @property
    def rule(self) -> Rule:
        return RULES[self.code]

    @property
    def breaking(self) -> bool:
        return self.rule.severity == BREAKING

    @property
    def allowance(self) -> str:
        """What `allow_breaking` lists to accept this change."""
        return f"{self.code}:{self.subject}"
