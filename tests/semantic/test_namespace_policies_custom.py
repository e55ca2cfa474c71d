"""Name resolution, join paths and row policies on a small namespace over the shop tables.

Model a is the orders table, b the customers table (read as main.customers), whose `status`
is the customer's region. b's row policy keeps North customers (Ann 100, Cy 102) for everyone,
so a's rows inherit it: orders 1, 2, 6 (Ann) and 4, 7 (Cy); of those, 1, 2, 4, 6 are completed
(100 + 50 + 30 + 120 = 300). a's metric `revenue` wraps the measure of the same name with
status = 'completed'."""

from __future__ import annotations

import pytest

import workbench
from workbench.semantic.errors import QueryError

from .conftest import PRINCIPALS

MINI = """\
models:
  - name: a
    table: orders
    primary_key: order_id
    joins:
      - {to: b, relationship: many_to_one, on: {customer_id: customer_id}}
    dimensions:
      - {name: order_id, type: numeric}
      - {name: status}
    measures:
      - {name: revenue, agg: sum, expr: amount}
    metrics:
      - {name: revenue, type: simple, measure: revenue, filter: "status = 'completed'"}
  - name: b
    table: main.customers
    primary_key: customer_id
    dimensions:
      - {name: customer_id, type: numeric}
      - {name: status, column: region}
      - {name: big_id, type: boolean, expr: "customer_id > 100"}
    policies:
      row_filters:
        - {filter: "status = 'North'"}
  - name: lonely
    table: stores
    primary_key: store_id
    dimensions:
      - {name: store_id, type: numeric}
"""


@pytest.fixture
def connect(tmp_path, shop_db):
    opened = []

    def make(text=MINI, **edits):
        for old, new in edits.values():
            assert text.count(old) == 1, old
            text = text.replace(old, new)
        d = tmp_path / "models"
        d.mkdir(exist_ok=True)
        (d / "mini.yml").write_text(text)
        wb = workbench.connect(
            warehouse=shop_db, models_dir=d, principal=PRINCIPALS["admin"], read_only=True
        )
        opened.append(wb)
        return wb

    yield make
    for wb in opened:
        wb.close()


def _revenue(wb, target="mini", **kw):
    return wb.query(target, ["revenue"], [], **kw).df["revenue"].fillna(0).tolist()[0]


def test_the_metric_wraps_its_measure_and_rows_inherit_the_parent_policy(connect):
    assert _revenue(connect()) == 300.0


def test_an_ambiguous_name_is_refused_unless_the_query_model_decides(connect):
    wb = connect()
    with pytest.raises(
        QueryError,
        match=r"'status' is ambiguous; qualify it as one of: "
        r"a.status, b.status",
    ):
        wb.query("mini", ["revenue"], ["status"]).df
    df = wb.query("mini.a", ["revenue"], ["status"]).df  # a's status: order 7 is cancelled
    assert dict(zip(df["status"], df["revenue"], strict=True)) == {
        "completed": 300.0,
        "cancelled": 0.0,
    }
    df = wb.query("mini.b", ["revenue"], ["status"]).df  # b's status: the region
    assert dict(zip(df["status"], df["revenue"], strict=True)) == {"North": 300.0}
    ref = wb.namespace("mini").resolve("status", ("dimension",), prefer="b")
    assert str(ref) == "b.status"


def test_no_join_path_to_a_model(connect):
    with pytest.raises(QueryError, match="No join path from model 'a' to 'lonely'"):
        connect().query("mini", ["revenue"], ["lonely.store_id"]).df


def test_inherit_false_lets_a_child_see_rows_of_hidden_parents(connect):
    wb = connect(e=("    metrics:\n", "    policies: {inherit: false}\n    metrics:\n"))
    assert _revenue(wb) == 370.0  # every completed order: 1, 2, 4, 5, 6


def test_a_row_policy_on_an_expression_dimension(connect):
    # big_id keeps Bob (101) and Cy (102): orders 3, 4, 5, 7; completed 4 and 5 -> 30 + 70
    wb = connect(e=("- {filter: \"status = 'North'\"}", "- {filter: big_id}"))
    assert _revenue(wb) == 100.0


def test_a_row_policy_naming_an_unknown_column_fails_the_query(connect):
    wb = connect(e=("- {filter: \"status = 'North'\"}", '- {filter: "nosuch = 1"}'))
    with pytest.raises(QueryError, match="Unknown column or dimension 'nosuch' in model 'b'"):
        wb.query("mini", ["revenue"], []).df


def test_a_row_policy_must_reach_other_models_many_to_one(connect):
    wb = connect(e=("- {filter: \"status = 'North'\"}", "- {filter: \"a.status = 'completed'\"}"))
    with pytest.raises(QueryError, match=r"Row policy on 'b' must reach \['a'\] many-to-one"):
        wb.query("mini", ["revenue"], []).df


def test_row_policies_referring_to_each_other_are_refused(connect):
    wb = connect(
        j=("relationship: many_to_one", "relationship: one_to_one"),
        e=("- {filter: \"status = 'North'\"}", "- {filter: \"a.status = 'completed'\"}"),
        a=(
            "    metrics:\n",
            "    policies:\n      row_filters:\n"
            "        - {filter: \"b.status = 'North'\"}\n    metrics:\n",
        ),
    )
    with pytest.raises(QueryError, match="refer to each other"):
        wb.query("mini", ["revenue"], []).df
