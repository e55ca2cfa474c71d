"""The retail demo warehouse: a deterministic, realistic retail domain in one DuckDB file.

Two years of orders across stores, a web shop, a mobile app and a marketplace, with weekly,
daily and yearly seasonality, growth, promotions, returns and a handful of labelled incidents
(table ``incidents``) for evaluating anomaly detection. See docs/demo-data.md.

Same ``(seed, end, scale)`` → identical tables (only ``warehouse_meta.built_at`` differs).

Shell: ``python -m workbench.warehouse.seed --scale 1 --seed 42`` (``workbench seed`` wraps it).

The build is :mod:`.build`; the package re-exports its public API.
"""

from __future__ import annotations

from .build import (
    DEFAULT_PATH,
    TABLES,
    VERSION,
    build_demo_warehouse,
    generate,
    history_bounds,
    main,
)

__all__ = [
    "DEFAULT_PATH",
    "TABLES",
    "VERSION",
    "build_demo_warehouse",
    "generate",
    "history_bounds",
    "main",
]
