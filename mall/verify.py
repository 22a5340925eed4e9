"""The mall invariants (docs/rules/mall.md), as SQL that lists every violation."""

CHECKS = [
    (
        "mall: an item's redeemed count differs from its redemptions not cancelled",
        """SELECT i.id, i.sold_count, count(r.id) FROM mall_mallitem i
           LEFT JOIN mall_redemption r ON r.item_id = i.id AND r.status <> 'cancelled'
           GROUP BY i.id HAVING i.sold_count <> count(r.id)""",
    ),
    (
        "mall: an item's stock is negative",
        "SELECT id, stock FROM mall_mallitem WHERE stock < 0",
    ),
    (
        "mall: a fulfilled virtual-code redemption holds no code",
        """SELECT r.id FROM mall_redemption r LEFT JOIN mall_virtualcode c ON c.redemption_id = r.id
           WHERE r.kind = 'virtual_code' AND r.status = 'fulfilled' AND c.id IS NULL""",
    ),
    (
        "mall: a cancelled redemption still holds a code",
        """SELECT r.id FROM mall_redemption r JOIN mall_virtualcode c ON c.redemption_id = r.id
           WHERE r.status = 'cancelled'""",
    ),
    (
        "mall: a cancelled redemption's points were not given back",
        """SELECT r.id, r.points FROM mall_redemption r
           WHERE r.status = 'cancelled' AND r.points_entry_id IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM points_pointsentry e WHERE e.reverses_id = r.points_entry_id
               UNION ALL SELECT 1 FROM points_pointsentryarchive e WHERE e.reverses_id = r.points_entry_id)""",
    ),
    (
        "mall: a redemption not cancelled spent other points than it says",
        """SELECT r.id, r.points, e.amount FROM mall_redemption r
           JOIN (SELECT id, amount FROM points_pointsentry
                 UNION ALL SELECT id, amount FROM points_pointsentryarchive) e ON e.id = r.points_entry_id
           WHERE r.status <> 'cancelled' AND e.amount <> -r.points""",
    ),
]
