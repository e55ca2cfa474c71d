"""NLQ: the question sets, the execution-match oracle and the benchmark harness (docs/nlq.md)."""
