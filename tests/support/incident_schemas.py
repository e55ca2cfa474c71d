"""Incident store schemas of earlier workbench versions, written out by hand, for the migration
tests (the oracle is what those versions created, not what the code now says)."""

# The tables as workbench created them before rule filters were stored (anomalies.rule_where).
OLD_SCHEMA = """
create table incidents (
    id integer primary key autoincrement, grp text not null, status text not null default 'open',
    severity text not null, title text not null, first_ts text not null, last_ts text not null,
    window_minutes integer not null, n_anomalies integer not null default 0,
    opened_at text not null, updated_at text not null, acknowledged_by text, acknowledged_at text,
    resolved_by text, resolved_at text, notified_severity text, insight text);
create table anomalies (
    fingerprint text primary key, incident_id integer not null references incidents(id),
    rule text, namespace text, metric text, grain text, slice_by text, slice_value text,
    ts text, value real, expected real, score real, severity text, direction text,
    detected_at text);
create table history (id integer primary key autoincrement, incident_id integer not null,
    at text not null, action text not null, actor text, detail text);
create table notifications (id integer primary key autoincrement, incident_id integer not null,
    rule text, route integer, notifier text, event text, severity text, status text not null,
    at text not null, detail text);
"""
