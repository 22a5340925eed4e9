"""Stored value: recharge plans, principal/bonus ledger, liability (see docs/rules/stored-value.md)."""
