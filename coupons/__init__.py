"""Coupon templates, claiming, gift packs and the pricing engine (see DESIGN.md §3)."""
