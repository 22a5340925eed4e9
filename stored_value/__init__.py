"""Stored value: recharge plans, principal/bonus ledger, liability (see DESIGN.md §3)."""
