"""The unseen-domain warehouse: a tiny insurer whose every figure can be checked by hand.

Do not read this if you work on the NLQ engine (see README.md in this folder).

Three regions, four agents, eight policies, seven claims. Totals, for checking by hand:
premium 9800 over 8 policies; loss payment 29200, loss reserve 6500, expense payment 2050,
expense reserve 550 (total loss 38300); 2 open claims (no close date), 5 closed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

REGIONS = [(1, "North"), (2, "South"), (3, "West")]
AGENTS = [  # agent_id, name, region_id
    (1, "Alice Brown", 1),
    (2, "Bob Green", 2),
    (3, "Carla White", 3),
    (4, "Dan Black", 1),
]
POLICIES = [  # policy_number, agent_id, product_line, start_date, premium
    ("31003000", 1, "auto", "2018-03-01", 1200.0),
    ("31003001", 1, "home", "2018-06-15", 800.0),
    ("31003002", 2, "auto", "2019-01-10", 1500.0),
    ("31003003", 2, "home", "2019-04-01", 600.0),
    ("31003004", 3, "auto", "2019-07-20", 1100.0),
    ("31003005", 3, "life", "2020-02-01", 2000.0),
    ("31003006", 4, "home", "2020-05-05", 900.0),
    ("31003007", 4, "life", "2020-09-09", 1700.0),
]
CLAIMS = [  # claim_number, policy_number, open, close, cause, LP, LR, EP, ER
    ("C-1001", "31003000", "2018-09-01", "2019-02-15", "collision", 5000.0, 0.0, 300.0, 0.0),
    ("C-1002", "31003000", "2019-05-10", "2019-11-30", "theft", 2000.0, 0.0, 150.0, 0.0),
    ("C-1003", "31003001", "2018-12-03", "2020-01-20", "water", 8000.0, 0.0, 500.0, 0.0),
    ("C-1004", "31003002", "2019-08-08", "2019-12-12", "collision", 1200.0, 0.0, 100.0, 0.0),
    ("C-1005", "31003004", "2020-01-15", None, "collision", 3000.0, 4000.0, 200.0, 300.0),
    ("C-1006", "31003005", "2020-06-01", "2021-03-01", "illness", 10000.0, 0.0, 800.0, 0.0),
    ("C-1007", "31003002", "2020-11-11", None, "theft", 0.0, 2500.0, 0.0, 250.0),
]

TABLES = {
    "regions": ("region_id INTEGER PRIMARY KEY, region_name VARCHAR", REGIONS),
    "agents": ("agent_id INTEGER PRIMARY KEY, agent_name VARCHAR, region_id INTEGER", AGENTS),
    "policies": (
        "policy_number VARCHAR PRIMARY KEY, agent_id INTEGER, product_line VARCHAR, "
        "start_date DATE, premium DECIMAL(12,2)",
        POLICIES,
    ),
    "claims": (
        "claim_number VARCHAR PRIMARY KEY, policy_number VARCHAR, open_date DATE, "
        "close_date DATE, cause VARCHAR, loss_payment DECIMAL(12,2), "
        "loss_reserve DECIMAL(12,2), expense_payment DECIMAL(12,2), "
        "expense_reserve DECIMAL(12,2)",
        CLAIMS,
    ),
}


def build(path: str | Path) -> Path:
    """Write the insurer's four tables to a new DuckDB file at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    try:
        for name, (columns, rows) in TABLES.items():
            con.execute(f"create table {name} ({columns})")
            marks = ", ".join("?" for _ in rows[0])
            con.executemany(f"insert into {name} values ({marks})", rows)
    finally:
        con.close()
    return path


if __name__ == "__main__":
    print(build(sys.argv[1] if len(sys.argv) > 1 else "insurance.duckdb"))
