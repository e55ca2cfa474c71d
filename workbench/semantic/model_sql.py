"""Models over SQL (`sql:` instead of `table:`): the author's query, checked and made portable.

The text is trusted (reviewed model YAML, never user input), yet a model is a relation, so it is
held to exactly one SELECT: a stray `; drop table ...`, a `CREATE`, or a `SELECT ... INTO` in a
model file is an error when the file loads, not something an engine runs. sqlglot parses it, so
the check is a real SQL parser's, and the same tree is written out in each engine's dialect
(models are written in DuckDB's dialect, the default engine's).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import DialectType
from sqlglot.errors import ParseError, TokenError

READ_DIALECT = "duckdb"

# Statements and clauses that write, change the catalog or the session: never part of a model.
_FORBIDDEN = (
    exp.DML,
    exp.DDL,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Into,
    exp.Pragma,
    exp.Set,
    exp.Use,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Attach,
    exp.Detach,
    exp.Install,
    exp.Describe,
)


class ModelSQLError(ValueError):
    """The model's SQL is not one valid SELECT. The message says what was found."""


def parse_model_sql(text: str) -> exp.Query:
    """The one SELECT (a WITH, a UNION ... included) of a model, or ModelSQLError."""
    try:
        statements = [s for s in sqlglot.parse(text, read=READ_DIALECT) if s is not None]
    except ParseError as e:
        first = e.errors[0] if e.errors else {}
        where = (
            f" (line {first['line']}, column {first['col']} of the SQL)"
            if first.get("line")
            else ""
        )
        reason = _TOKEN.sub(_token_text, (first.get("description") or str(e)).splitlines()[0])
        raise ModelSQLError(f"the model's SQL does not parse{where}: {reason}") from None
    except TokenError as e:
        raise ModelSQLError(f"the model's SQL does not parse: {str(e).splitlines()[0]}") from None
    if not statements:
        raise ModelSQLError("the model's SQL is empty; give one SELECT statement")
    if len(statements) > 1:
        raise ModelSQLError(
            f"the model's SQL must be one SELECT statement, found {len(statements)} statements"
        )
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise ModelSQLError(f"the model's SQL must be a SELECT statement, not {_kind(tree)}")
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN):
            raise ModelSQLError(f"the model's SQL must only read, but it contains {_kind(node)}")
    return tree


def _kind(node: exp.Expr) -> str:
    if isinstance(node, exp.Into):
        return "SELECT ... INTO"
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return node.key.upper()


# sqlglot's messages print tokens as "<Token token_type: TokenType.SENTINEL, text: ...>"
_TOKEN = re.compile(r"<Token token_type: TokenType\.(\w+), text: ([^,]*),[^>]*>")


def _token_text(m: re.Match[str]) -> str:
    return "the end of the SQL" if m.group(1) == "SENTINEL" else repr(m.group(2))


def source_tables(tree: exp.Query) -> list[exp.Table]:
    """Tables the query reads from the warehouse: not CTE names, not table functions.

    A CTE name shadows a table of the same name everywhere in the query here; sqlglot's scope
    analysis would be exact, but a model reusing a table's name for a CTE is not worth it.
    """
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    out: list[exp.Table] = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # read_parquet(...) and other table functions
        if not table.db and table.name.lower() in ctes:
            continue
        out.append(table)
    return out


def render(
    tree: exp.Query,
    dialect: DialectType,
    *,
    schema: str | None = None,
    rename: Callable[[str, str | None], str] | None = None,
) -> str:
    """The query in `dialect`. `schema` qualifies unqualified tables, like a model's `table:` in
    a namespace with `schema:`; `rename(name, schema)` replaces a table by another name (Spark's
    temporary views)."""
    tree = tree.copy()
    for table in source_tables(tree):
        db = table.db or schema
        if rename is not None and not table.catalog:
            name = rename(table.name, db)
            alias = table.alias or (table.name if name != table.name else None)
            new = exp.Table(this=exp.to_identifier(name, quoted=True))
            if alias:  # columns qualified by the table's name still resolve
                new.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
            table.replace(new)
        elif schema and not table.db:
            table.set("db", exp.to_identifier(schema))
    return tree.sql(dialect=dialect)
