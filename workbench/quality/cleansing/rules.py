"""Cleansing rules as YAML (``pipelines/cleansing/<table>.yml``), parsed into typed specs.

    table: customers              # source table in the warehouse
    key: [customer_id]            # identifies a row; lineage records it; rules may not change it
    output: customers_clean       # default <table>_clean
    rules:
      - name: trim_names
        version: 1
        action: trim
        columns: [customer_name, city]

Actions: ``trim``, ``standardise_case``, ``map_values``, ``fill_default``, ``deduplicate``,
``fix_type``, ``regex_replace`` (fields below). A rule is identified by ``(name, version)``:
changing what a rule does means a new version, which goes through approval again.
Every error names the file, the line and the field.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from ...semantic.errors import ModelError
from ...specfile import SourceMap, plain, read_yaml
from ..schema.registry import canonical_type

DEFAULT_DIR = Path("pipelines") / "cleansing"


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Rule name.")
    version: int = Field(1, ge=1, description="Bump it whenever the rule's behaviour changes.")
    description: str = Field("", description="What the rule fixes, for the approver.")

    def targets(self) -> list[str]:
        """Columns whose values the rule changes (a rule has ``columns`` or one ``column``)."""
        fields = dict(self)
        return list(fields.get("columns") or [fields["column"]])

    @property
    def spec_hash(self) -> str:
        body = self.model_dump(exclude={"description"})
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[
            :16
        ]


class Trim(_Rule):
    action: Literal["trim"] = Field(description="Strip leading and trailing spaces.")
    columns: list[str] = Field(..., min_length=1, description="Text columns to strip of spaces.")


class StandardiseCase(_Rule):
    action: Literal["standardise_case"] = Field(description="Put text in one case.")
    columns: list[str] = Field(..., min_length=1, description="Text columns to change the case of.")
    case: Literal["upper", "lower", "title"] = Field(..., description="Target case.")


class MapValues(_Rule):
    action: Literal["map_values"] = Field(
        description="Replace known wrong values by the right ones."
    )
    column: str = Field(..., description="Column whose values are mapped.")
    mapping: dict[str, Any] = Field(..., min_length=1, description="old value -> new value.")
    ignore_case: bool = Field(False, description="Match old values case-insensitively.")


class FillDefault(_Rule):
    action: Literal["fill_default"] = Field(description="Fill missing values with a default.")
    column: str = Field(..., description="Column whose missing values are filled.")
    value: Any = Field(..., description="Value for NULL cells (cast to the column's type).")
    blank_as_missing: bool = Field(False, description="Also fill empty or all-space text.")


class Survivor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field(..., description="Column that decides which duplicate survives.")
    keep: Literal["latest", "earliest", "largest", "smallest"] = Field(
        "latest",
        description="latest or largest: the row with the highest `by` survives; earliest or "
        "smallest: the lowest.",
    )


class Deduplicate(_Rule):
    action: Literal["deduplicate"] = Field(description="Keep one row of each group of duplicates.")
    by: list[str] = Field(..., min_length=1, description="Rows equal on these are duplicates.")
    survivor: Survivor = Field(..., description="Which duplicate is kept; ties: smallest key.")
    ignore_case: bool = Field(
        False, description="Compare text in `by` case-insensitively, trimmed."
    )

    def targets(self) -> list[str]:
        return []


class FixType(_Rule):
    action: Literal["fix_type"] = Field(description="Cast a column to its proper type.")
    column: str = Field(..., description="Column to cast.")
    type: str = Field(..., description="Target DuckDB type.")
    on_error: Literal["fail", "null"] = Field(
        "fail", description="A value that does not convert: fail the run (default) or NULL."
    )

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        return canonical_type(v)


class RegexReplace(_Rule):
    action: Literal["regex_replace"] = Field(description="Rewrite text matching a pattern.")
    columns: list[str] = Field(..., min_length=1, description="Text columns rewritten.")
    pattern: str = Field(..., description="RE2 pattern (DuckDB regexp_replace).")
    replacement: str = Field("", description="Replacement; \\1 refers to a group.")

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"invalid regular expression: {e}") from None
        return v


Rule = Annotated[
    Trim | StandardiseCase | MapValues | FillDefault | Deduplicate | FixType | RegexReplace,
    Field(discriminator="action"),
]
ACTIONS = (
    "trim",
    "standardise_case",
    "map_values",
    "fill_default",
    "deduplicate",
    "fix_type",
    "regex_replace",
)


class RuleSetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    table: str = Field(..., description="Source table.")
    key: list[str] = Field(..., min_length=1, description="Columns that identify a row.")
    output: str | None = Field(None, description="Cleansed table (default <table>_clean).")
    rules: list[Rule] = Field(default_factory=list, description="Rules, applied in this order.")


@dataclass
class RuleSet:
    spec: RuleSetSpec
    source: SourceMap
    path: Path

    @property
    def table(self) -> str:
        return self.spec.table

    @property
    def key(self) -> list[str]:
        return self.spec.key

    @property
    def output(self) -> str:
        return self.spec.output or f"{self.spec.table}_clean"

    @property
    def rules(self) -> list:
        return self.spec.rules

    def rule(self, name: str):
        for r in self.spec.rules:
            if r.name == name:
                return r
        from ...semantic.errors import QueryError, closest

        raise QueryError(
            f"No rule '{name}' in {self.path}.", closest(name, [r.name for r in self.rules])
        )

    def error(
        self, problem: str, rule_index: int | None = None, field: str | None = None
    ) -> ModelError:
        path: tuple = ()
        if rule_index is not None:
            path = ("rules", rule_index) + ((field,) if field else ())
        return self.source.error(problem, path)

    def check_columns(self, columns: dict[str, str]) -> None:
        """Every column a rule names exists in the source table (``{name: type}``), and no rule
        changes a key column."""
        for k, col in enumerate(self.key):
            if col not in columns:
                raise self.source.error(
                    f"key column '{col}' is not in table '{self.table}'", ("key", k)
                )
        for i, r in enumerate(self.rules):
            fields = [("columns", c) for c in getattr(r, "columns", None) or []]
            if hasattr(r, "column"):
                fields.append(("column", r.column))
            fields += (
                [("by", c) for c in getattr(r, "by", [])]
                if isinstance(getattr(r, "by", None), list)
                else []
            )
            if isinstance(r, Deduplicate):
                fields.append(("survivor", r.survivor.by))
            for fname, col in fields:
                if col not in columns:
                    from ...semantic.errors import closest

                    near = closest(col, columns)
                    raise self.error(
                        f"column '{col}' is not in table '{self.table}'"
                        + (f"; did you mean {', '.join(near)}?" if near else ""),
                        i,
                        fname,
                    )
            for col in r.targets():
                if col in self.key:
                    raise self.error(
                        f"rule '{r.name}' would change key column '{col}'; lineage "
                        "identifies rows by the key, so keys are never rewritten",
                        i,
                    )
                if (
                    r.action in ("trim", "standardise_case", "regex_replace")
                    and columns[col] != "VARCHAR"
                ):
                    raise self.error(
                        f"'{r.action}' needs a text column; '{col}' is {columns[col]}", i
                    )


def load_rules(path: str | Path) -> RuleSet:
    """Read one rules file; problems raise ModelError naming the file, line and field."""
    path = Path(path)
    root, src = read_yaml(path, "a mapping with 'table', 'key' and 'rules'")
    data = plain(root)
    # Name the unknown action before pydantic buries it in a union error.
    for i, r in enumerate(data.get("rules") or []):
        if isinstance(r, dict) and r.get("action") not in ACTIONS:
            raise src.error(
                f"unknown action '{r.get('action')}' (one of: {', '.join(ACTIONS)})",
                ("rules", i, "action") if "action" in r else ("rules", i),
            )
    try:
        spec = RuleSetSpec.model_validate(data)
    except ValidationError as e:
        # A misspelt field also makes the real one "missing": report the misspelling.
        err = sorted(e.errors(), key=lambda x: x["type"] != "extra_forbidden")[0]
        # drop the union tag pydantic adds after the rule index: ('rules', 0, 'trim', 'columns')
        loc = tuple(
            p
            for j, p in enumerate(err["loc"])
            if not (j == 2 and err["loc"][0] == "rules" and p in ACTIONS)
        )
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown field '{loc[-1]}'"
        elif err["type"] == "missing":
            msg = f"missing required field '{loc[-1]}'"
        raise src.error(msg, loc) from None
    seen: dict[str, int] = {}
    for i, r in enumerate(spec.rules):
        if r.name in seen:
            raise src.error(
                f"rule '{r.name}' is defined twice (also rule {seen[r.name] + 1})",
                ("rules", i, "name"),
            )
        seen[r.name] = i
    return RuleSet(spec, src, path)


def load_rules_dir(directory: str | Path = DEFAULT_DIR) -> dict[str, RuleSet]:
    """Every ``*.yml`` in ``directory``, keyed by source table."""
    out: dict[str, RuleSet] = {}
    for p in sorted(Path(directory).glob("*.yml")):
        rs = load_rules(p)
        if rs.table in out:
            raise ModelError(
                f"table '{rs.table}' already has rules in {out[rs.table].path}", str(p), 1
            )
        out[rs.table] = rs
    return out


rule_adapter = TypeAdapter(Rule)
