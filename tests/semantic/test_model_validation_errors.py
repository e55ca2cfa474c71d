"""A malformed model file is refused when it loads (or, for columns, when it meets the warehouse),
with the file, the line and the field of the mistake.

Each case edits one line of a small, valid model (BASE) and expects the error on the line of
the edit, found by searching the edited text in the written file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench
from workbench.semantic.errors import ModelError
from workbench.semantic.loader import load_dir, load_file
from workbench.semantic.namespace import Namespace
from workbench.semantic.validate import bind_check

from .conftest import PRINCIPALS

BASE = """\
models:
  - name: orders
    table: orders
    primary_key: order_id
    default_time_dimension: order_date
    joins:
      - {to: customers, on: {customer_id: customer_id}}
    dimensions:
      - {name: order_id, type: numeric}
      - {name: order_date, type: time, column: ordered_at}
      - {name: status}
      - {name: band, expr: "case when amount >= 100 then 'large' else 'small' end"}
    measures:
      - {name: revenue, agg: sum, expr: amount}
      - {name: order_count, agg: count}
    metrics:
      - {name: aov, type: ratio, numerator: revenue, denominator: order_count}
  - name: customers
    table: customers
    primary_key: customer_id
    dimensions:
      - {name: customer_id, type: numeric}
      - {name: region}
"""


def write(
    tmp_path: Path, old: str | None = None, new: str = "", text: str = BASE, name: str = "mini.yml"
) -> tuple[Path, str]:
    """BASE with `old` replaced by `new` (once); returns the file and the marker to find."""
    if old is not None:
        assert text.count(old) == 1, old
        text = text.replace(old, new, 1)
    d = tmp_path / "models"
    d.mkdir(exist_ok=True)
    f = d / name
    f.write_text(text)
    return f, new


def line_of(path: Path, needle: str) -> int:
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


def test_the_base_model_is_valid(tmp_path):
    f, _ = write(tmp_path)
    ns = load_file(f)
    assert [m.name for m in ns.spec.models] == ["orders", "customers"]


# (old text, new text, the marker on the offending line, words of the message)
LOAD_ERRORS = [
    pytest.param(
        "  - name: customers\n",
        "  - name: orders   # again\n    sql: select 1 as x\n  - name: customers\n",
        "# again",
        "duplicate model name 'orders'",
        id="duplicate-model",
    ),
    pytest.param(
        "      - {to: customers, on: {customer_id: customer_id}}",
        "      - {to: customers, on: {customer_id: customer_id}}\n"
        "      - {to: customers, on: {status: region}}",
        "on: {status: region}",
        "joins 'customers' more than once",
        id="join-twice-without-names",
    ),
    pytest.param(
        "    primary_key: order_id\n",
        "    primary_key: order_id\n    paths: {shops: [customers]}\n",
        "paths: {shops",
        "paths names unknown model 'shops'",
        id="paths-unknown-target",
    ),
    pytest.param(
        "    primary_key: order_id\n",
        "    primary_key: order_id\n    paths: {customers: [custmers]}\n",
        "paths: {customers",
        "'custmers' is not a model or join name (did you mean customers",
        id="paths-unknown-via",
    ),
    pytest.param(
        "      - {name: region}",
        "      - {name: region}\n      - {name: n_orders, metric: ordr_count}",
        "metric: ordr_count",
        "Unknown measure or metric 'ordr_count'",
        id="metric-per-row-unknown-metric",
    ),
    pytest.param(
        "      - {name: region}",
        "      - {name: region}\n      - {name: n_orders, metric: order_count, at: [regoin]}",
        "at: [regoin]",
        "'at' names 'regoin', which is not a dimension of model 'customers' (did you mean region",
        id="metric-per-row-bad-at",
    ),
    pytest.param(
        "      - {name: region}",
        "      - {name: region}\n"
        "      - {name: n_orders, metric: order_count, filter: \"status = = 'x'\"}",
        "filter: \"status = = 'x'\"",
        "cannot parse expression",
        id="metric-per-row-bad-filter",
    ),
    pytest.param(
        "      - {name: region}",
        "      - {name: region}\n"
        "      - {name: n_orders, metric: order_count}\n"
        '    policies:\n      row_filters:\n        - {filter: "n_orders > 1"}',
        'filter: "n_orders > 1"',
        "a row policy cannot use 'customers.n_orders'",
        id="row-policy-on-metric-per-row",
    ),
    pytest.param(
        "      - {name: region}",
        "      - {name: region}\n"
        "    policies:\n      columns:\n        - {members: [regon], action: hide}",
        "members: [regon]",
        "policy names unknown member",
        id="column-policy-unknown",
    ),
    pytest.param(
        "    default_time_dimension: order_date",
        "    default_time_dimension: status",
        "default_time_dimension: status",
        "default_time_dimension 'status' is not a time dimension",
        id="dtd-not-time",
    ),
    pytest.param(
        "    default_time_dimension: order_date",
        "    default_time_dimension: shipped_at",
        "default_time_dimension: shipped_at",
        "default_time_dimension 'shipped_at' is not a time dimension",
        id="dtd-unknown",
    ),
    pytest.param(
        "numerator: revenue,",
        "numerator: revenu,",
        "numerator: revenu,",
        "Unknown measure or metric 'revenu'",
        id="ratio-unknown-numerator",
    ),
    pytest.param(
        "      - {name: aov, type: ratio, numerator: revenue, denominator: order_count}",
        '      - {name: rpo, type: derived, expr: "revenue / nothing"}',
        'expr: "revenue / nothing"',
        "derived metric refers to",
        id="derived-unknown-reference",
    ),
    pytest.param(
        "      - {name: aov, type: ratio, numerator: revenue, denominator: order_count}",
        "      - {name: share, type: percent_of_total, metric: revenue, within: [stats]}",
        "within: [stats]",
        "Unknown dimension 'stats'",
        id="share-unknown-within",
    ),
    pytest.param(
        "      - {name: order_count, agg: count}",
        "      - {name: order_count, agg: count, filter: \"shops.region = 'x'\"}",
        "shops.region",
        "unknown model 'shops' in 'shops.region'",
        id="measure-filter-unknown-model",
    ),
    pytest.param(
        "      - {name: order_count, agg: count}",
        "      - {name: order_count, agg: count, filter: \"customers.regoin = 'x'\"}",
        "customers.regoin",
        "Unknown dimension 'customers.regoin'",
        id="measure-filter-unknown-dimension",
    ),
    # the types of members (spec.py), reported by the spec reader with their line
    pytest.param(
        "{name: status}",
        '{name: status, column: status, expr: "lower(status)"}',
        'expr: "lower(status)"',
        "give one of 'column', 'expr' or 'metric'",
        id="dimension-column-and-expr",
    ),
    pytest.param(
        "{name: status}",
        "{name: status, at: [order_id]}",
        "at: [order_id]",
        "'at' and 'filter' belong to a dimension with 'metric'",
        id="at-without-metric",
    ),
    pytest.param(
        "      - {name: region}",
        "      - {name: region}\n      - {name: first_order, type: time, metric: order_count}",
        "name: first_order",
        "a dimension with 'metric' is numeric",
        id="metric-per-row-typed-time",
    ),
    pytest.param(
        "{name: revenue, agg: sum, expr: amount}",
        "{name: revenue, agg: sum, expr: amount, column: amount}",
        "column: amount}",
        "give either 'column' or 'expr', not both",
        id="measure-column-and-expr",
    ),
    pytest.param(
        "{name: revenue, agg: sum, expr: amount}",
        "{name: revenue, agg: percentile, expr: amount}",
        "agg: percentile",
        "agg 'percentile' needs 'percentile'",
        id="percentile-without-p",
    ),
    pytest.param(
        "{name: revenue, agg: sum, expr: amount}",
        "{name: revenue, agg: sum}",
        "{name: revenue, agg: sum}",
        "agg 'sum' needs 'expr' or 'column'",
        id="sum-of-nothing",
    ),
    pytest.param(
        "type: ratio, numerator: revenue, denominator: order_count",
        "type: ratio, numerator: revenue",
        "type: ratio, numerator: revenue}",
        "metric type 'ratio' needs denominator",
        id="ratio-without-denominator",
    ),
    pytest.param(
        "on: {customer_id: customer_id}",
        "on: {}",
        "on: {}",
        "'on' needs at least one column pair",
        id="join-on-nothing",
    ),
    pytest.param(
        "    table: customers\n",
        "    table: customers\n    sql: select 1\n",
        "  - name: customers",
        "a model needs exactly one of 'table' or 'sql'",
        id="table-and-sql",
    ),
]


@pytest.mark.parametrize("old, new, marker, words", LOAD_ERRORS)
def test_a_malformed_model_names_file_line_and_problem(tmp_path, old, new, marker, words):
    f, _ = write(tmp_path, old, new)
    with pytest.raises(ModelError) as e:
        load_file(f)
    err = e.value
    assert words in str(err)
    assert err.file == str(f)
    assert err.line == line_of(f, marker), str(err)
    assert str(err).startswith(f"{f}:{err.line}")


def test_the_field_is_named_by_member_names(tmp_path):
    f, _ = write(tmp_path, "numerator: revenue,", "numerator: revenu,")
    with pytest.raises(ModelError) as e:
        load_file(f)
    assert e.value.field == "models[orders].metrics[aov].numerator"


def test_a_row_policy_may_name_a_plain_column(tmp_path, shop_db):
    """A row filter's bare name that is no dimension is a column of the table (checked when the
    warehouse is bound), not a load error; the filter then applies."""
    f, _ = write(
        tmp_path,
        "      - {name: region}",
        "      - {name: region}\n"
        "    policies:\n      row_filters:\n        - {filter: \"name <> 'Bob'\"}",
    )
    load_file(f)
    wb = workbench.connect(
        warehouse=shop_db, models_dir=f.parent, principal=PRINCIPALS["admin"], read_only=True
    )
    try:
        # customers Ann (100) and Cy (102) remain: their orders are 1, 2, 6 and 4, 7
        df = wb.query(
            "mini", ["order_count"], ["customers.customer_id"], order=["customers.customer_id"]
        ).df
        assert df["order_count"].tolist() == [3, 2]
        assert df["customers.customer_id"].tolist() == [100, 102]
    finally:
        wb.close()


def test_two_files_of_one_namespace_are_refused(tmp_path):
    write(tmp_path, name="mini.yml")
    f, _ = write(tmp_path, name="mini.yaml")
    with pytest.raises(ModelError, match="duplicate namespace 'mini'") as e:
        load_dir(f.parent)
    assert e.value.file == str(f) and e.value.line == 1


# --- columns, checked against the warehouse ------------------------------------------------
def _connect(models: Path, shop_db):
    return workbench.connect(
        warehouse=shop_db, models_dir=models, principal=PRINCIPALS["admin"], read_only=True
    )


def test_unknown_own_join_key(tmp_path, shop_db):
    f, _ = write(tmp_path, "on: {customer_id: customer_id}", "on: {cust_id: customer_id}")
    wb = _connect(f.parent, shop_db)
    try:
        with pytest.raises(ModelError) as e:
            wb.query("mini", ["revenue"]).df
    finally:
        wb.close()
    assert "unknown join key 'cust_id' in table 'orders' (did you mean customer_id" in str(e.value)
    assert e.value.line == line_of(f, "on: {cust_id: customer_id}")


def test_a_measure_filter_may_name_its_own_dimension(tmp_path, shop_db):
    """`band` is no column of orders but a dimension of the model: allowed in a measure's
    filter. Large orders (amount >= 100) are 1, 3, 6: 100 + 200 + 120."""
    f, _ = write(
        tmp_path,
        "      - {name: order_count, agg: count}",
        "      - {name: order_count, agg: count}\n"
        "      - {name: large_revenue, agg: sum, expr: amount, filter: \"band = 'large'\"}",
    )
    wb = _connect(f.parent, shop_db)
    try:
        assert wb.query("mini", ["large_revenue"]).df["large_revenue"].tolist() == [420.0]
    finally:
        wb.close()


def test_unknown_column_of_a_measure_names_its_line(tmp_path, shop_db):
    f, _ = write(
        tmp_path,
        "{name: revenue, agg: sum, expr: amount}",
        "{name: revenue, agg: sum, expr: amont}",
    )
    wb = _connect(f.parent, shop_db)
    try:
        with pytest.raises(ModelError) as e:
            wb.query("mini", ["order_count"]).df
    finally:
        wb.close()
    assert "unknown column 'amont' in table 'orders' (measure revenue)" in str(e.value)
    assert e.value.line == line_of(f, "expr: amont")


def test_bind_check_skips_models_without_a_schema(tmp_path):
    """Only models whose columns are known are checked: orders' bad column is reported, and
    customers (no schema given) is not checked at all."""
    f, _ = write(
        tmp_path,
        "{name: revenue, agg: sum, expr: amount}",
        "{name: revenue, agg: sum, expr: amont}",
    )
    space = Namespace(load_file(f))
    bind_check(space, {})  # nothing known: nothing to report
    cols = {
        "order_id": "int",
        "customer_id": "int",
        "ordered_at": "timestamp",
        "amount": "double",
        "status": "string",
    }
    with pytest.raises(ModelError, match="unknown column 'amont'"):
        bind_check(space, {"orders": cols})
    good, _ = write(tmp_path)
    bind_check(Namespace(load_file(good)), {"orders": cols})
