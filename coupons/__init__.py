"""Coupon templates, claiming, gift packs and the pricing engine (see docs/rules/coupons.md)."""
