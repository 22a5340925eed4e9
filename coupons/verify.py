"""The coupon invariants (docs/rules/coupons.md), as SQL that lists every violation."""

CHECKS = [
    (
        "coupons: a template's issued count differs from its coupons",
        """SELECT t.id, t.issued_count, count(c.id) FROM coupons_coupontemplate t
           LEFT JOIN coupons_coupon c ON c.template_id = t.id
           GROUP BY t.id HAVING t.issued_count <> count(c.id)""",
    ),
    (
        "coupons: a template issued more than its stock",
        "SELECT id, issued_count, total_stock FROM coupons_coupontemplate WHERE issued_count > total_stock",
    ),
    (
        "coupons: a member holds more than the per-member limit",
        """SELECT c.template_id, c.member_id, count(*) FROM coupons_coupon c
           JOIN coupons_coupontemplate t ON t.id = c.template_id
           GROUP BY c.template_id, c.member_id, t.per_member_limit HAVING count(*) > t.per_member_limit""",
    ),
    (
        "coupons: a used or locked coupon names no order",
        "SELECT id, status FROM coupons_coupon WHERE status IN ('used', 'locked') AND order_no = ''",
    ),
    (
        "coupons: a coupon was used more often than it was given back",
        """SELECT coupon_id, count(*) FILTER (WHERE kind = 'used'), count(*) FILTER (WHERE kind = 'restored')
           FROM coupons_couponevent GROUP BY coupon_id
           HAVING count(*) FILTER (WHERE kind = 'used') > count(*) FILTER (WHERE kind = 'restored') + 1""",
    ),
]
