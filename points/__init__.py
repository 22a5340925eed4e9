"""Points ledger, earning rules, check-in and expiry (see DESIGN.md §3)."""
