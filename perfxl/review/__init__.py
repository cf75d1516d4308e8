"""Judging what was read: scores, cross-checks, the bureau's ledger and adjustments (pure functions of data)."""
