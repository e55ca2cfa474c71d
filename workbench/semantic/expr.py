"""The small, safe expression language of models, filters and policies.

Text is parsed by sqlglot into a syntax tree, checked against a whitelist of node types, and
translated node by node into Ibis expressions. User text is therefore never pasted into SQL:
column names resolve to members, literals become bound Ibis literals, anything else is refused.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import sqlglot
from ibis.common.annotations import SignatureValidationError
from ibis.common.exceptions import IbisError
from sqlglot import exp

from .errors import QueryError

_ATTR = re.compile(r"\{\s*user\.([A-Za-z_][A-Za-z0-9_]*)\s*\}")
_ATTR_FN = "__user_attr"

Resolver = Callable[[str | None, str], ir.Value]
BinaryOp = Callable[[ir.Value, ir.Value], ir.Value]


class ExprError(QueryError):
    pass


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> exp.Expr:
    """Parse one expression. `{user.x}` becomes a call the translator binds to an attribute."""
    if not isinstance(text, str) or not text.strip():
        raise ExprError("empty expression")
    src = _ATTR.sub(lambda m: f"{_ATTR_FN}('{m.group(1)}')", text)
    try:
        tree = sqlglot.parse_one(src, read="duckdb")
    except sqlglot.errors.ParseError as e:
        first = e.errors[0]["description"] if e.errors else str(e)
        raise ExprError(f"cannot parse expression {text!r}: {first}") from None
    if tree is None or isinstance(tree, (exp.Select, exp.Query, exp.Command, exp.DDL, exp.DML)):
        raise ExprError(f"{text!r} is not an expression (statements are not allowed)")
    for node in tree.walk():
        if not isinstance(node, _ALLOWED):
            raise ExprError(f"{type(node).__name__.lower()} is not allowed in expression {text!r}")
        if isinstance(node, exp.Anonymous) and node.name.lower() not in _ANON_OK:
            raise ExprError(f"unknown function '{node.name}' in expression {text!r}")
    return tree


def column_refs(tree: exp.Expr) -> list[tuple[str | None, str]]:
    out: list[tuple[str | None, str]] = []
    for col in tree.find_all(exp.Column):
        out.append((col.table or None, col.name))
    return out


class Translator:
    """Turns a parsed tree into an Ibis value. `resolve(qualifier, name)` supplies columns."""

    def __init__(self, resolve: Resolver, attributes: dict[str, Any] | None = None, text: str = ""):
        self.resolve, self.text = resolve, text
        self.attributes: dict[str, Any] = attributes or {}
        self._depth = 0

    def __call__(self, node: exp.Expr) -> ir.Value:
        if self._depth == 0:
            return self._root(node)
        method = getattr(self, "_" + type(node).__name__.lower(), None)
        if method is None:
            raise ExprError(f"{type(node).__name__.lower()} is not supported in {self.text!r}")
        if node.args.get("negate") and type(node) not in _NEGATABLE:
            # sqlglot marks some negations with a flag on the node instead of a Not parent
            # (`x not like y`); a node whose flag we did not read would silently lose its NOT
            raise ExprError(
                f"negated {type(node).__name__.lower()} is not supported in {self.text!r}"
            )
        self._depth += 1
        try:
            return method(node)
        finally:
            self._depth -= 1

    def _root(self, node: exp.Expr) -> ir.Value:
        # Default deny for the WHOLE expression: a principal without an attribute the text uses
        # gets FALSE, never a value to compute with; otherwise `not (x = {user.a})` or
        # `x not in ({user.a})` would turn a missing attribute into "every row".
        for n in node.find_all(exp.Anonymous):
            if n.name.lower() == _ATTR_FN and self.attributes.get(n.expressions[0].name) is None:
                return ibis.literal(False)
        self._depth = 1
        try:
            return self(node)
        except (IbisError, SignatureValidationError, TypeError, ValueError) as e:
            # Ibis refuses ill-typed trees (`not amount`, `amount > 'x'`): say where, no traceback
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ExprError(f"cannot evaluate {self.text or node.sql()!r}: {first}") from None
        finally:
            self._depth = 0

    # leaves -----------------------------------------------------------------------------
    def _column(self, n: exp.Column) -> ir.Value:
        return self.resolve(n.table or None, n.name)

    def _literal(self, n: exp.Literal) -> ir.Value:
        if n.is_string:
            return ibis.literal(n.this)
        text = n.this
        if re.fullmatch(r"-?\d+", text):
            return ibis.literal(int(text))
        if "e" in text.lower():
            return ibis.literal(float(text), type="float64")  # 1e3 is a DOUBLE in SQL
        d = Decimal(text)
        digits, exponent = len(d.as_tuple().digits), d.as_tuple().exponent
        if not isinstance(exponent, int):  # 'n'/'N'/'F': NaN or infinity, never a SQL number
            raise ExprError(f"{text!r} is not a number in {self.text!r}")
        scale = max(-exponent, 0)
        # exact decimals, as SQL would type them: 0.06 - 0.01 must equal 0.05 exactly
        return ibis.literal(d, type=f"decimal({max(digits, scale + 1)}, {scale})")

    def _boolean(self, n: exp.Boolean) -> ir.Value:
        return ibis.literal(bool(n.this))

    def _null(self, n: exp.Null) -> ir.Value:
        return ibis.null()

    def _paren(self, n: exp.Paren) -> ir.Value:
        return self(n.this)

    def _neg(self, n: exp.Neg) -> ir.Value:
        return -self._typed(n.this, "float64")

    def _typed(self, node: exp.Expr, typ: str) -> ir.Value:
        """The argument of a function; a bare NULL gets a type so `abs(NULL)` is NULL, as in SQL."""
        v = self(node)
        return v.cast(typ) if v.type().is_null() else v

    def _anonymous(self, n: exp.Anonymous) -> ir.Value:
        name = n.name.lower()
        if name == _ATTR_FN:
            # present: _root denied the whole expression otherwise
            return ibis.literal(self.attributes[n.expressions[0].name])
        args = [self(a) for a in n.expressions]
        return _ANON_OK[name](*args)

    # operators ----------------------------------------------------------------------------
    def _binary(self, n: exp.Binary, op: BinaryOp, both_null: str = "int64") -> ir.Value:
        left, right = _coerce_pair(self(n.this), self(n.expression))
        if left.type().is_null() and right.type().is_null():
            # NULL op NULL: SQL types both sides as the operator's operand (INTEGER for
            # arithmetic, BOOLEAN for AND/OR); Ibis has no operator on two untyped NULLs
            left, right = left.cast(both_null), right.cast(both_null)
        return op(*_typed_nulls(left, right))

    def _compare(self, n: exp.Binary, op: BinaryOp) -> ir.Value:
        left, right = _coerce_pair(_atom(self(n.this)), _atom(self(n.expression)))
        return op(*_typed_nulls(left, right))

    def _add(self, n: exp.Add) -> ir.Value:
        return self._binary(n, lambda a, b: a + b)

    def _sub(self, n: exp.Sub) -> ir.Value:
        return self._binary(n, lambda a, b: a - b)

    def _mul(self, n: exp.Mul) -> ir.Value:
        return self._binary(n, lambda a, b: a * b)

    # x / 0 is NULL on every engine (DuckDB 2 gives inf, PostgreSQL and ANSI Spark raise): a
    # derived metric over an empty group must not fail or turn into infinity
    def _div(self, n: exp.Div) -> ir.Value:
        return self._binary(n, lambda a, b: a / b.nullif(0))

    def _mod(self, n: exp.Mod) -> ir.Value:
        return self._binary(n, lambda a, b: a % b)

    def _eq(self, n: exp.EQ) -> ir.Value:
        return self._compare(n, _equals)

    def _neq(self, n: exp.NEQ) -> ir.Value:
        return self._compare(n, _not_equals)

    def _nullsafeeq(self, n: exp.NullSafeEQ) -> ir.Value:
        return self._compare(n, _identical)

    def _nullsafeneq(self, n: exp.NullSafeNEQ) -> ir.Value:
        return self._compare(n, lambda a, b: ~_identical(a, b))

    def _gt(self, n: exp.GT) -> ir.Value:
        return self._compare(n, lambda a, b: a > b)

    def _gte(self, n: exp.GTE) -> ir.Value:
        return self._compare(n, lambda a, b: a >= b)

    def _lt(self, n: exp.LT) -> ir.Value:
        return self._compare(n, lambda a, b: a < b)

    def _lte(self, n: exp.LTE) -> ir.Value:
        return self._compare(n, lambda a, b: a <= b)

    def _and(self, n: exp.And) -> ir.Value:
        return self._binary(n, lambda a, b: a & b, "boolean")

    def _or(self, n: exp.Or) -> ir.Value:
        return self._binary(n, lambda a, b: a | b, "boolean")

    def _dpipe(self, n: exp.DPipe) -> ir.Value:
        return self._binary(n, lambda a, b: a.cast("string") + b.cast("string"), "string")

    def _not(self, n: exp.Not) -> ir.Value:
        v = self(n.this)
        if not (v.type().is_boolean() or v.type().is_null()):
            raise ExprError(f"NOT needs a true/false value, not {v.type()}, in {self.text!r}")
        return ~v

    def _in(self, n: exp.In) -> ir.Value:
        if n.args.get("query") or n.args.get("unnest"):
            raise ExprError(f"subqueries are not allowed in {self.text!r}")
        left = _atom(self(n.this))
        values = [_atom(self(v)) for v in n.expressions]
        values = [_coerce_pair(left, v)[1] for v in values]
        return left.isin(values)

    def _between(self, n: exp.Between) -> ir.Value:
        v, lo, hi = (_atom(self(n.args[k])) for k in ("this", "low", "high"))
        v, lo = _coerce_pair(v, lo)
        v, hi = _coerce_pair(v, hi)
        return v.between(lo, hi)

    def _like(self, n: exp.Like) -> ir.Value:
        out = self(n.this).like(self(n.expression))
        return ~out if n.args.get("negate") else out

    def _ilike(self, n: exp.ILike) -> ir.Value:
        out = self(n.this).ilike(self(n.expression))
        return ~out if n.args.get("negate") else out

    def _is(self, n: exp.Is) -> ir.Value:
        v = _atom(self(n.this))
        if isinstance(n.expression, exp.Null):
            return v.isnull()
        if isinstance(n.expression, exp.Boolean):
            # IS TRUE / IS FALSE are never NULL: an unknown value is neither
            return (v if n.expression.this else ~v).fill_null(False)
        raise ExprError(f"only 'is [not] null|true|false' is supported in {self.text!r}")

    def _case(self, n: exp.Case) -> ir.Value:
        if n.this is not None:
            subject = _atom(self(n.this))
            branches = [
                (
                    _equals(*_typed_nulls(*_coerce_pair(subject, _atom(self(i.this))))),
                    self(i.args["true"]),
                )
                for i in n.args["ifs"]
            ]
        else:
            branches = [(self(i.this), self(i.args["true"])) for i in n.args["ifs"]]
        default = n.args.get("default")
        return ibis.cases(*branches, else_=self(default) if default is not None else None)

    def _if(self, n: exp.If) -> ir.Value:
        false = n.args.get("false")
        return ibis.ifelse(
            self(n.this), self(n.args["true"]), self(false) if false is not None else ibis.null()
        )

    def _cast(self, n: exp.Cast) -> ir.Value:
        to = n.to.this.name.lower() if hasattr(n.to.this, "name") else str(n.to).lower()
        target = _CAST_TYPES.get(to)
        if to == "decimal":
            # DuckDB's DECIMAL is DECIMAL(18,3); sqlglot fills those defaults in
            p, sc = (
                ([self._int_arg(e.this, "decimal precision") for e in n.to.expressions] + [18, 3])[
                    :2
                ]
                if n.to.expressions
                else (18, 3)
            )
            target = f"decimal({p}, {sc})"
        if target is None:
            raise ExprError(f"cast to {n.to.sql()} is not supported in {self.text!r}")
        v = self(n.this)
        if v.type().is_boolean() and target == "int64":
            target = "int32"  # PostgreSQL casts boolean to integer, not to bigint
        return v.cast(target)

    _trycast = _cast

    def _interval(self, n: exp.Interval) -> ir.Value:
        unit = (n.unit.name if n.unit is not None else "day").lower().rstrip("s")
        qty = int(str(n.this.this if isinstance(n.this, exp.Literal) else n.this.name))
        return ibis.interval(**{_INTERVAL_UNITS[unit]: qty})

    # functions --------------------------------------------------------------------------
    def _fn(self, n: exp.Expr, f: Callable[..., ir.Value], *argnames: str) -> ir.Value:
        args = [self(n.args[a]) for a in argnames if n.args.get(a) is not None]
        return f(*args)

    def _lower(self, n: exp.Lower) -> ir.Value:
        return self._typed(n.this, "string").lower()

    def _upper(self, n: exp.Upper) -> ir.Value:
        return self._typed(n.this, "string").upper()

    def _length(self, n: exp.Length) -> ir.Value:
        return self._typed(n.this, "string").length()

    def _abs(self, n: exp.Abs) -> ir.Value:
        return self._typed(n.this, "float64").abs()

    def _floor(self, n: exp.Floor) -> ir.Value:
        return self._typed(n.this, "float64").floor()

    def _ceil(self, n: exp.Ceil) -> ir.Value:
        return self._typed(n.this, "float64").ceil()

    def _year(self, n: exp.Year) -> ir.Value:
        return self._typed(n.this, "date").year()

    def _month(self, n: exp.Month) -> ir.Value:
        return self._typed(n.this, "date").month()

    def _day(self, n: exp.Day) -> ir.Value:
        return self._typed(n.this, "date").day()

    def _int_arg(self, node: exp.Expr, what: str) -> int:
        """A whole-number literal argument (`round(x, 2)`, `substring(s, 2, 3)`)."""
        sign, inner = 1, node
        while isinstance(inner, (exp.Neg, exp.Paren)):
            sign, inner = (-sign if isinstance(inner, exp.Neg) else sign), inner.this
        if not (
            isinstance(inner, exp.Literal)
            and not inner.is_string
            and re.fullmatch(r"\d+", inner.this)
        ):
            raise ExprError(f"{what} must be a whole number in {self.text!r}")
        return sign * int(inner.this)

    def _round(self, n: exp.Round) -> ir.Value:
        digits = n.args.get("decimals")
        return self._typed(n.this, "float64").round(
            self._int_arg(digits, "round's digits") if digits is not None else 0
        )

    def _coalesce(self, n: exp.Coalesce) -> ir.Value:
        return ibis.coalesce(self(n.this), *[self(e) for e in n.expressions])

    def _nullif(self, n: exp.Nullif) -> ir.Value:
        return self(n.this).nullif(self(n.expression))

    def _greatest(self, n: exp.Greatest) -> ir.Value:
        return ibis.greatest(self(n.this), *[self(e) for e in n.expressions])

    def _least(self, n: exp.Least) -> ir.Value:
        return ibis.least(self(n.this), *[self(e) for e in n.expressions])

    def _substring(self, n: exp.Substring) -> ir.Value:
        start = (
            self._int_arg(n.args["start"], "substring's start")
            if n.args.get("start") is not None
            else 1
        )
        length = n.args.get("length")
        length = self._int_arg(length, "substring's length") if length is not None else None
        if start < 0 or (length is not None and length < 0):
            # engines disagree on negative positions (DuckDB counts from the end, PostgreSQL
            # before the start): refuse rather than answer differently per engine
            raise ExprError(f"substring's start and length must not be negative in {self.text!r}")
        if start == 0:
            # SQL position 0 lies before the first character: it uses up one of `length`
            start, length = 1, (None if length is None else max(length - 1, 0))
        return self._typed(n.this, "string").substr(start - 1, length)

    def _trim(self, n: exp.Trim) -> ir.Value:
        # SQL trim() removes spaces only; Ibis' strip() also removes tabs and newlines
        return self._typed(n.this, "string").re_replace(r"^ +| +$", "")

    def _concat(self, n: exp.Concat) -> ir.Value:
        # concat() skips NULL arguments (DuckDB, PostgreSQL); `||` is the NULL-propagating one
        parts = [self(e).cast("string").fill_null("") for e in n.expressions]
        out = parts[0]
        for p in parts[1:]:
            out = out + p
        return out

    def _date(self, n: exp.Expr) -> ir.Value:
        return self(n.this).cast("date")

    def _extract(self, n: exp.Extract) -> ir.Value:
        part = n.this.name.lower()
        v = self._typed(n.expression, "timestamp")
        if part not in ("year", "month", "day", "hour", "minute", "quarter", "week"):
            raise ExprError(f"extract({part}) is not supported in {self.text!r}")
        return getattr(v, "week_of_year" if part == "week" else part)()


def _equals(a: ir.Value, b: ir.Value) -> ir.Value:
    # ops.Equals, not `a == b`: Ibis rewrites `x == NULL` to `x IS NULL`, but in SQL it is unknown
    return ops.Equals(a, b).to_expr()


def _not_equals(a: ir.Value, b: ir.Value) -> ir.Value:
    return ops.NotEquals(a, b).to_expr()


def _identical(a: ir.Value, b: ir.Value) -> ir.Value:
    # IS NOT DISTINCT FROM spelled with = and IS NULL: Ibis renders IdenticalTo without the
    # parentheses it needs on PostgreSQL (`x = a IS NOT DISTINCT FROM b` parses differently)
    return ibis.coalesce(_equals(a, b), a.isnull() & b.isnull())


def _atom(v: ir.Value) -> ir.Value:
    """A true/false operand that renders as one unit: Ibis 12 prints `(NOT b) IS NULL` as
    `NOT (b) IS NULL` and `(NOT b) = c` as `NOT (b) = c`, which SQL reads as NOT (...)."""
    if v.type().is_boolean() and not isinstance(v.op(), (ops.Field, ops.Literal)):
        return ibis.coalesce(v, ibis.null("boolean"))
    return v


def _typed_nulls(a: ir.Value, b: ir.Value) -> tuple[ir.Value, ir.Value]:
    """Give a bare NULL the other side's type, so `x + NULL` and `b and NULL` are well-typed."""
    if a.type().is_null() and not b.type().is_null():
        a = a.cast(b.type())
    elif b.type().is_null() and not a.type().is_null():
        b = b.cast(a.type())
    return a, b


def _coerce_pair(a: ir.Value, b: ir.Value) -> tuple[ir.Value, ir.Value]:
    """Compare a date/timestamp with a string literal the way people write it: '2024-01-01'."""
    for x, y, swap in ((a, b, False), (b, a, True)):
        if isinstance(x, ir.Value) and isinstance(y, ir.Value):
            xt, yt = x.type(), y.type()
            if (xt.is_temporal()) and yt.is_string():
                y = y.cast(xt)
                return (y, x) if swap else (x, y)
            if xt.is_decimal() and yt.is_floating():
                return (y, x.cast("float64")) if swap else (x.cast("float64"), y)
            if xt.is_decimal() and yt.is_decimal() and xt != yt and not swap:
                # compare exactly at the wider scale: l_discount (15,2) > 0.055 (4,3)
                xs, ys = xt.scale or 0, yt.scale or 0
                scale = max(xs, ys)
                whole = max((xt.precision or 18) - xs, (yt.precision or 18) - ys)
                target = f"decimal({min(38, whole + scale)}, {scale})"
                return x.cast(target), y.cast(target)
    return a, b


_NEGATABLE = (exp.Like, exp.ILike)  # nodes whose `negate` flag the translator honours
_CAST_TYPES = {
    "int": "int64",
    "integer": "int64",
    "bigint": "int64",
    "float": "float64",
    "double": "float64",
    "text": "string",
    "varchar": "string",
    "string": "string",
    "date": "date",
    "timestamp": "timestamp",
    "bool": "boolean",
    "boolean": "boolean",
}
_INTERVAL_UNITS = {
    "year": "years",
    "month": "months",
    "week": "weeks",
    "day": "days",
    "hour": "hours",
    "minute": "minutes",
    "second": "seconds",
}
_ANON_OK: dict[str, Callable[..., ir.Value]] = {
    _ATTR_FN: lambda *a: None,
    "date": lambda v: v.cast("date"),
}
_ALLOWED = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.Neg,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.And,
    exp.Or,
    exp.Not,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.Is,
    exp.Case,
    exp.If,
    exp.NullSafeEQ,
    exp.NullSafeNEQ,
    exp.Cast,
    exp.TryCast,
    exp.DataType,
    exp.DataTypeParam,
    exp.Interval,
    exp.Var,
    exp.Lower,
    exp.Upper,
    exp.Trim,
    exp.Length,
    exp.Abs,
    exp.Round,
    exp.Floor,
    exp.Ceil,
    exp.Year,
    exp.Month,
    exp.Day,
    exp.Coalesce,
    exp.Nullif,
    exp.Greatest,
    exp.Least,
    exp.Substring,
    exp.Concat,
    exp.Extract,
    exp.DPipe,
    exp.Anonymous,
    exp.Date if hasattr(exp, "Date") else exp.Anonymous,
)
