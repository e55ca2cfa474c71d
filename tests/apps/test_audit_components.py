"""The audit app's pieces without a browser: entries as people read them, the chain banner, the
per-hour frame and its summary, the CSV (formula cells neutralised), and the client's refusal of
a non-http URL and of a server it cannot reach."""

from __future__ import annotations

import csv
import io

import pytest

from workbench.ui.audit import entries as shown
from workbench.ui.audit.client import AuditApiError, AuditClient

ENTRY = {
    "seq": 7,
    "time": "2026-12-03T07:21:05.123456Z",
    "user": "vera",
    "roles": ["viewer"],
    "action": "login.failure",
    "resource": None,
    "outcome": "failure",
    "source": "security",
    "details": {"reason": "bad_password", "user": "vera"},
}


def test_entries_read_as_people_read_them():
    df = shown.table_frame([ENTRY])
    assert list(df.columns) == shown.TABLE_COLUMNS
    row = df.iloc[0].to_dict()
    assert row == {
        "#": 7,
        "Time (UTC)": "3 Dec 2026, 07:21:05",
        "User": "vera",
        "Action": "login.failure",
        "Resource": "—",
        "Outcome": "✗ failure",
    }
    html = shown.details_html(ENTRY)
    assert "bad_password" in html and "<dt>Roles</dt><dd>viewer</dd>" in html
    assert "<script>" not in shown.details_html({**ENTRY, "details": {"x": "<script>"}})


def test_the_chain_banner_says_verified_or_where_it_broke():
    assert shown.chain_banner({"ok": True, "entries": 12, "signed_up_to": 10}) == (
        "ok",
        "✓ Chain verified: 12 entries intact, signed up to entry 10.",
    )
    kind, text = shown.chain_banner(
        {"ok": False, "broken_at": 5, "problems": ["altered: entry 5: its content does not match"]}
    )
    assert kind == "broken" and text.startswith("✗ Chain broken at entry 5: altered")
    assert shown.chain_banner({"ok": None, "summary": "no public key"})[0] == "unknown"


def test_hours_without_events_count_zero_and_the_summary_names_each_family():
    hourly = [
        {"hour": "2026-12-03T05:00Z", "action": "login", "count": 3},
        {"hour": "2026-12-03T07:00Z", "action": "login", "count": 1},
        {"hour": "2026-12-03T07:00Z", "action": "authz", "count": 2},
    ]
    df = shown.hourly_frame(hourly)
    assert len(df) == 3 * 2  # 05, 06, 07 × two families
    assert df["events"].sum() == 6
    assert df[(df.action == "login") & (df.hour.dt.hour == 6)]["events"].item() == 0
    text = shown.hourly_summary(df)
    assert (
        "authz 2 (busiest 03 Dec 07:00, 2)" in text and "login 4 (busiest 03 Dec 05:00, 3)" in text
    )
    assert shown.hourly_summary(shown.hourly_frame([])) == "No events to chart."


def test_the_csv_has_every_field_and_no_formula_cells():
    attempt = {**ENTRY, "seq": 8, "user": '=HYPERLINK("http://x")', "details": {}}
    rows = list(csv.reader(io.StringIO(shown.to_csv([ENTRY, attempt]).decode())))
    assert rows[0] == shown.CSV_COLUMNS
    assert rows[1][:8] == [
        "7",
        "2026-12-03T07:21:05.123456Z",
        "vera",
        "viewer",
        "login.failure",
        "",
        "failure",
        "security",
    ]
    assert rows[1][8] == '{"reason": "bad_password", "user": "vera"}'
    assert rows[2][2] == '\'=HYPERLINK("http://x")'


def test_the_client_only_talks_http_and_says_when_the_server_is_gone():
    with pytest.raises(ValueError, match="http"):
        AuditClient("file:///etc/passwd", {})
    client = AuditClient("http://127.0.0.1:9/", {}, timeout=2)
    with pytest.raises(AuditApiError, match="not reachable") as err:
        client.search({"user": "vera"})
    assert err.value.status == 0
