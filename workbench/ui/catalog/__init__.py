"""The catalog explorer's components (``apps/catalog.py`` composes them).

``search`` is the searchable member list with lineage, ``query_builder`` the query pane,
``availability`` which namespaces the open warehouse can answer, ``member_names`` the member
names the builder and the availability check share.
"""
