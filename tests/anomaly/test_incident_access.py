"""The slice an anomaly is about, as semantic filters; comparison of metric values."""

from __future__ import annotations

import json
import math

from workbench.anomaly.incident_access import IncidentAccess, _same, slice_filters
from workbench.security.principal import Principal


def test_slice_filters_add_the_slice_to_the_rules_where_and_quote_values():
    a = {
        "rule_where": json.dumps(["channel = 'store'"]),
        "slice_by": "region",
        "slice_value": "North",
    }
    assert slice_filters(a) == ["channel = 'store'", "region = 'North'"]
    assert slice_filters({"rule_where": None, "slice_by": "store", "slice_value": "O'Brien's"}) == [
        "store = 'O''Brien''s'"
    ]  # a quote cannot end the literal
    assert slice_filters({"rule_where": "[]", "slice_by": None, "slice_value": None}) == []


def test_same_compares_numbers_nulls_and_nans():
    assert _same(1.0, 1.0 + 1e-12) and not _same(1.0, 1.1)
    assert _same(None, None) and not _same(None, 0)
    assert _same(math.nan, float("nan")) and not _same(math.nan, 1.0)
    assert _same("a", "a") and not _same("a", "b")


def test_admins_see_everything_and_an_incident_without_anomalies_is_nobodys():
    access = IncidentAccess(lambda: None)
    assert access.visible(Principal.of("root", roles=["admin"]), [])
    assert not access.visible(Principal.of("v", roles=["viewer"]), [])
