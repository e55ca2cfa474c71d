"""The semantic query API: records, SQL and freshness; row policies by principal; errors as
400 with the semantic layer's message."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

API = ("workbench", "api")


async def post_query(jp_fetch, **q):
    r = await jp_fetch(*API, "query", method="POST", body=json.dumps(q))
    return json.loads(r.body)


async def test_post_query_returns_records_sql_and_freshness(jp_fetch):
    out = await post_query(
        jp_fetch,
        namespace="retail",
        metrics=["revenue", "orders"],
        dimensions=["region"],
        order=["region"],
    )
    assert out["columns"] == ["region", "revenue", "orders"]
    assert out["rows"] == len(out["records"]) >= 2
    assert all(isinstance(r["revenue"], float) for r in out["records"])
    assert "SELECT" in out["sql"].upper()
    assert out["principal"] == "analyst"
    assert "served_at" in out["freshness"]
    assert out["meta"]["revenue"]["format"]


async def test_get_query_with_grain_and_time_range(jp_fetch):
    r = await jp_fetch(
        *API,
        "query",
        params={
            "namespace": "retail",
            "metrics": "revenue",
            "dimensions": "order_date",
            "grain": "month",
            "time_range": "2024-01-01..2024-06-30",
        },
    )
    out = json.loads(r.body)
    assert out["columns"][0].startswith("order_date")
    months = [rec[out["columns"][0]][:7] for rec in out["records"]]
    assert months == sorted(months) or len(months) == 6
    assert all("2024-01" <= m <= "2024-06" for m in months)


async def test_identity_maps_to_a_principal_whose_row_policy_applies(jp_fetch, jp_serverapp):
    ext = jp_serverapp.extension_manager.extension_points["workbench"].app
    ext.host.mapper.mapping = {"*": "north_manager"}
    ext.host._views.clear()
    out = await post_query(jp_fetch, namespace="retail", metrics=["revenue"], dimensions=["region"])
    assert out["principal"] == "north_manager"
    assert [r["region"] for r in out["records"]] == ["North"]


async def test_get_query_with_the_login_token_in_the_url(jp_fetch, jp_serverapp):
    """``?token=`` (how the proxied dashboard was first opened) logs the request in; it is
    not a query field, so it must not be rejected as one (it was: every dashboard query 400)."""
    token = jp_serverapp.identity_provider.token
    r = await jp_fetch(
        *API,
        "query",
        params={"namespace": "retail", "metrics": "orders", "token": token, "_xsrf": "x"},
    )
    assert json.loads(r.body)["rows"] == 1


@pytest.mark.parametrize(
    "query,words",
    [
        ({"namespace": "retail", "metrics": ["revenu"]}, ["revenu", "revenue"]),
        ({"namespace": "nowhere", "metrics": ["revenue"]}, ["nowhere"]),
        (
            {"namespace": "retail", "metrics": ["revenue"], "where": ["no_such_column = 1"]},
            ["no_such_column"],
        ),
        ({"metrics": ["revenue"]}, ["namespace"]),
        ({"namespace": "retail", "metrics": "revenue", "limit": "ten"}, ["limit"]),
        ({"namespace": "retail", "metrics": ["revenue"], "bogus": 1}, ["bogus"]),
    ],
)
async def test_bad_query_is_400_with_a_message_and_no_traceback(jp_fetch, query, words):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(*API, "query", method="POST", body=json.dumps(query))
    assert err.value.code == 400
    body = json.loads(err.value.response.body)
    for w in words:
        assert w in body["message"]
    assert "Traceback" not in err.value.response.body.decode()


async def test_body_that_is_not_json_is_400(jp_fetch):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(*API, "query", method="POST", body="{not json")
    assert err.value.code == 400
    assert "JSON" in json.loads(err.value.response.body)["message"]


async def test_catalog_lists_and_searches_by_synonym(jp_fetch):
    r = await jp_fetch(*API, "catalog", params={"namespace": "retail"})
    out = json.loads(r.body)
    assert "retail" in out["namespaces"]
    names = {e["name"] for e in out["entries"]}
    assert {"revenue", "region", "orders"} <= names
    r = await jp_fetch(*API, "catalog", params={"q": "purchases"})
    hits = json.loads(r.body)["entries"]
    assert hits and hits[0]["name"] == "orders"


async def arrow_query(jp_fetch, **q):
    from workbench.client import wire

    r = await jp_fetch(
        *API, "query", method="POST", body=json.dumps(q), headers={"Accept": wire.MEDIA_TYPE}
    )
    assert r.headers["Content-Type"].startswith(wire.MEDIA_TYPE)
    return wire.decode(r.body)


async def test_a_cached_arrow_answer_has_the_rows_of_the_json_one_and_is_never_another_principals(
    jp_fetch, jp_serverapp
):
    """A cached answer is sent from the Arrow table made for its first answer (host.result_tables,
    by the result cache's key).  Oracle: the JSON rows of the same query, encoded per cell from
    the frame; and north_manager's row policy still cuts a cached answer of analyst's."""
    host = jp_serverapp.extension_manager.extension_points["workbench"].app.host
    q = {
        "namespace": "retail",
        "metrics": ["revenue", "orders"],
        "dimensions": ["region"],
        "order": ["region"],
    }
    first, facts1 = await arrow_query(jp_fetch, **q)
    again, facts2 = await arrow_query(jp_fetch, **q)
    assert (facts1["cached"], facts2["cached"]) == (False, True) and len(host.result_tables) == 1
    as_json = await post_query(jp_fetch, **q)
    for table in (first, again):
        assert table.to_pylist() == as_json["records"] and facts2["rows"] == as_json["rows"] > 1

    host.mapper.mapping = {"*": "north_manager"}
    host._views.clear()
    north, facts3 = await arrow_query(jp_fetch, **q)
    assert facts3["principal"] == "north_manager" and not facts3["cached"]
    assert north.column("region").to_pylist() == ["North"]
    host.tables_changed()  # data changed under the server: no table made before is used
    assert len(host.result_tables) == 0
