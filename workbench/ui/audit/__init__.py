"""The audit app's components (apps/audit.py): the audit API client, the entries as people read
them, and the browser (filters, chain banner, events per hour, entries, CSV)."""
