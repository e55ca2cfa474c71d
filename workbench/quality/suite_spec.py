"""Expectation suites as reviewed YAML: ``pipelines/quality/<suite>.yml``.

A suite names what it validates (a table, or a model written as SQL over warehouse tables), the
row key used to quarantine failing rows, and a list of checks. Each check is one Great
Expectations 1.x expectation (built-in or one of ours in :mod:`.expectations`) plus the quality
dimension it scores and its weight::

    suite: orders
    target: {model: retail.orders, sql: "select ... from orders ..."}   # or {table: orders}
    key: [order_id]
    checks:
      - name: customer_present
        expect: expect_column_values_to_not_be_null
        column: customer_id
        dimension: completeness

Every other key of a check is passed to the expectation. ``freshness`` checks are compiled to
``expect_column_max_to_be_between`` with a minimum of ``now - max_age``. Errors name the file,
line and field.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from ..semantic.errors import ModelError
from ..specfile import SourceMap, plain

DEFAULT_DIR = Path("pipelines") / "quality"
Dimension = Literal["completeness", "validity", "uniqueness", "freshness", "consistency"]
DIMENSIONS: tuple[str, ...] = ("completeness", "validity", "uniqueness", "freshness", "consistency")
# How much each dimension counts in a table's overall score (renormalised over the dimensions a
# suite actually checks). Validity and completeness hurt most downstream; freshness is one check.
DEFAULT_DIMENSION_WEIGHTS = {
    "completeness": 0.25,
    "validity": 0.25,
    "uniqueness": 0.2,
    "consistency": 0.2,
    "freshness": 0.1,
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_META_KEYS = {"name", "expect", "dimension", "weight", "description", "max_age"}


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")
    table: str | None = Field(None, description="A warehouse table validated as it is.")
    schema_: str | None = Field(None, alias="schema", description="Schema of the table.")
    model: str | None = Field(None, description="Semantic model this suite scores (retail.orders).")
    sql: str | None = Field(
        None,
        description="SQL over warehouse tables defining the rows checked "
        "(a model, e.g. orders joined with their lines).",
    )

    @model_validator(mode="after")
    def _one(self):
        if not self.table and not self.sql:
            raise ValueError("target needs 'table' or 'sql'")
        if self.table and self.sql:
            raise ValueError("target takes 'table' or 'sql', not both")
        return self

    @property
    def name(self) -> str | None:
        """What scores are reported for: the model if named, else the table (None for SQL without a
        model)."""
        return self.model or (f"{self.schema_}.{self.table}" if self.schema_ else self.table)

    def from_sql(self) -> str:
        """A FROM-clause item for this target (the SQL is reviewed YAML, never user text)."""
        if self.sql:
            return f"({self.sql.strip().rstrip(';')}) AS _target"
        return f'"{self.schema_}"."{self.table}"' if self.schema_ else f'"{self.table}"'


class Check(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(
        ..., description="Short unique name; quarantined rows list the names they failed."
    )
    expect: str = Field(
        ..., description="GE expectation type, e.g. expect_column_values_to_not_be_null."
    )
    dimension: Dimension = Field(..., description="Quality dimension this check scores.")
    weight: float = Field(1.0, gt=0, description="Weight within its dimension.")
    description: str | None = Field(None, description="Why the check exists, for people.")
    max_age: str | None = Field(
        None, description="Freshness only: '36h', '2d': newest value not older."
    )

    @property
    def kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in (self.model_extra or {}).items() if k not in _META_KEYS}


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    suite: str = Field(..., description="Suite name (the file stem).")
    description: str | None = Field(None, description="What the suite guards, for people.")
    status: Literal["active", "proposed"] = Field(
        "active",
        description="'proposed' suites come from profiling and are never run until accepted.",
    )
    target: Target = Field(..., description="The rows checked: a table, or SQL for a model's rows.")
    key: list[str] = Field(
        ..., min_length=1, description="Row key columns, stored with quarantined rows."
    )
    checks: list[Check] = Field(
        ..., min_length=1, description="The expectations run on the target."
    )
    reviewed_by: str | None = Field(None, description="Who accepted a proposed suite.")
    reviewed_at: str | None = Field(
        None, description="When a proposed suite was accepted (ISO time)."
    )
    dimension_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_DIMENSION_WEIGHTS),
        description="Weight of each quality dimension in the suite's overall score.",
    )
    history: dict[str, float] = Field(
        default_factory=dict,
        description="Thresholds of history checks "
        "(row_count_change, null_rate_change, distribution_shift).",
    )
    path: str | None = Field(
        None,
        exclude=True,
        description="File the suite was loaded from (set by the loader, never written back).",
    )

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)


def parse_age(text: str) -> dt.timedelta:
    m = _AGE.match(str(text))
    if not m:
        raise ValueError(f"age '{text}' is not like '36h' or '2d'")
    n, unit = float(m.group(1)), m.group(2)
    return dt.timedelta(seconds=n * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit])


def _check_semantics(spec: Suite, src: SourceMap) -> None:
    from .expectations import expectation_class  # GE is heavy: imported only when needed

    seen: set[str] = set()
    for i, c in enumerate(spec.checks):
        if not _NAME.match(c.name):
            raise src.error(f"check name '{c.name}' must be an identifier", ("checks", i, "name"))
        if c.name in seen:
            raise src.error(f"check name '{c.name}' is used twice", ("checks", i, "name"))
        seen.add(c.name)
        if c.dimension == "freshness":
            if not c.max_age:
                raise src.error("a freshness check needs max_age ('36h', '2d')", ("checks", i))
            try:
                parse_age(c.max_age)
            except ValueError as e:
                raise src.error(str(e), ("checks", i, "max_age")) from None
        try:
            expectation_class(c.expect)
        except KeyError as e:
            raise src.error(str(e.args[0]), ("checks", i, "expect")) from None


def load_suite(path: str | Path, *, check_expectations: bool = True) -> Suite:
    path = Path(path)
    try:
        root = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    except MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise ModelError(f"invalid YAML: {e.problem}", str(path), line) from None
    src = SourceMap(str(path), root)
    if not isinstance(root, dict):
        raise ModelError(
            "a suite file must be a mapping with suite, target, key and checks", str(path)
        )
    try:
        spec = Suite.model_validate({**plain(root), "path": str(path)})
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        raise src.error(err["msg"], loc) from None
    if check_expectations:
        _check_semantics(spec, src)
    return spec


def suite_path(name: str | Path, suites_dir: str | Path | None = None) -> Path:
    """A suite by name ('orders') from the suites folder, or a path to a YAML file."""
    p = Path(name)
    if p.suffix in (".yml", ".yaml") and p.exists():
        return p
    folder = Path(suites_dir) if suites_dir else _default_dir()
    for cand in (folder / f"{name}.yml", folder / f"{name}.yaml"):
        if cand.exists():
            return cand
    known = sorted(f.stem for f in folder.glob("*.y*ml")) if folder.exists() else []
    raise ModelError(
        f"no suite '{name}' in {folder}" + (f" (suites: {', '.join(known)})" if known else "")
    )


def _default_dir() -> Path:
    from ..config import load_settings

    return load_settings().path(str(DEFAULT_DIR))


def list_suites(suites_dir: str | Path | None = None) -> list[str]:
    folder = Path(suites_dir) if suites_dir else _default_dir()
    return sorted(f.stem for f in folder.glob("*.y*ml")) if folder.exists() else []
