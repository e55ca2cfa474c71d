"""Namespace.dimension/measure/metric/segment(ref): the spec of one kind of member, as the model
file declares it, and a clear error for a ref of another kind (the typed accessors the compiler
reads fields through). The expected values are read off tests/semantic/models/shop.yml."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.semantic.compiler_parts import required
from workbench.semantic.errors import QueryError
from workbench.semantic.loader import load_file
from workbench.semantic.namespace import Namespace, Ref
from workbench.semantic.spec import Dimension, Measure, Metric, Segment

SHOP = Path(__file__).parent / "models" / "shop.yml"


@pytest.fixture(scope="module")
def space() -> Namespace:
    return Namespace(load_file(SHOP))


def test_each_accessor_gives_the_declared_spec(space):
    order_date = space.dimension(space.resolve("order_date", ("dimension",)))
    assert isinstance(order_date, Dimension)
    assert (order_date.type, order_date.column) == ("time", "ordered_at")
    revenue = space.measure(space.resolve("orders.revenue", ("measure",)))
    assert isinstance(revenue, Measure)
    assert (revenue.agg, revenue.expr, revenue.unit) == ("sum", "amount", "EUR")
    aov = space.metric(space.resolve("aov", ("metric",)))
    assert isinstance(aov, Metric)
    assert (aov.type, aov.numerator, aov.denominator) == ("ratio", "revenue", "order_count")
    completed = space.segment(space.resolve("completed", ("segment",)))
    assert isinstance(completed, Segment)
    assert completed.filter == "status = 'completed'"
    # member() is the same object, whatever its kind
    assert space.member(Ref("orders", "aov", "metric")) is aov


@pytest.mark.parametrize(
    ("accessor", "ref", "message"),
    [
        (
            "dimension",
            Ref("orders", "revenue", "measure"),
            "'orders.revenue' is a measure, not a dimension",
        ),
        ("measure", Ref("orders", "aov", "metric"), "'orders.aov' is a metric, not a measure"),
        (
            "metric",
            Ref("orders", "status", "dimension"),
            "'orders.status' is a dimension, not a metric",
        ),
        (
            "segment",
            Ref("orders", "order_count", "measure"),
            "'orders.order_count' is a measure, not a segment",
        ),
    ],
)
def test_a_ref_of_another_kind_is_a_query_error(space, accessor, ref, message):
    with pytest.raises(QueryError, match=message):
        getattr(space, accessor)(ref)


def test_an_unknown_ref_is_still_a_key_error(space):
    # as member() always was: refs come from resolve(), which names unknown members
    with pytest.raises(KeyError):
        space.dimension(Ref("orders", "nothing", "dimension"))


def test_required_reads_a_guaranteed_field_or_names_it():
    ref = Ref("orders", "aov", "metric")
    assert required("revenue", ref, "numerator") == "revenue"
    assert required(2, ref, "window") == 2
    for missing in (None, ""):
        with pytest.raises(QueryError, match="'orders.aov' has no 'numerator'"):
            required(missing, ref, "numerator")
