"""Jupyter server integration: proxy entries for the apps (more extensions live beside them)."""
