"""Member notifications: one service, pluggable channels (database by default)."""
