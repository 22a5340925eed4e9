"""Points ledger, earning rules, check-in and expiry (see docs/rules/points.md)."""
