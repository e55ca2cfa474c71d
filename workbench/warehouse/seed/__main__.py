"""``python -m workbench.warehouse.seed``: build the retail demo warehouse."""

from .build import main

raise SystemExit(main())
