"""``python -m workbench.warehouse.tpch``: generate TPC-H data and load it into DuckDB."""

from . import main

raise SystemExit(main())
