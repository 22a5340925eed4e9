"""Table sizes per year at 100k, 1M and 10M members, from the demo's per-member rates (docs/scaling.md).

    python manage.py seed_demo --members 1000    # once, into the database of DATABASE_URL (or the embedded one)
    python -m bench.sizes                         # reads that database, writes nothing

Rates: each big table's rows per *member-year* (every demo member counts from sign-up to the end of
the demo year; members join all year, so a member-year is the honest unit, not a member).  Bytes per
row at scale are estimated from the rows themselves, because a 1,000-member demo's tables are mostly
page overhead: the heap's average row (``pg_column_size``) plus 28 bytes of tuple header and line
pointer, and for each index the average width of its columns plus 16 bytes, times the share of rows a
partial index holds; pages are taken as 90% full (heap and right-growing indexes; a random-key index
sits nearer 70%, which the measured figure of bench/growth.py shows for points entries).
"""

from __future__ import annotations

import os

# (what, table) for every table that grows with members' activity, in the order the doc lists them.
TABLES = [
    ("points entries", "points_pointsentry"),
    ("points lots", "points_pointslot"),
    ("points allocations", "points_pointsallocation"),
    ("check-ins", "points_checkin"),
    ("stored-value entries", "stored_value_storedvalueentry"),
    ("recharge orders", "stored_value_rechargeorder"),
    ("orders", "orders_order"),
    ("order lines", "orders_orderline"),
    ("order events", "orders_orderevent"),
    ("coupons", "coupons_coupon"),
    ("coupon events", "coupons_couponevent"),
    ("growth entries", "members_growthentry"),
    ("notifications (inbox)", "notifications_notification"),
    ("payments", "payments_payment"),
    ("payment notifications", "payments_paymentnotification"),
]
MEMBERS = (100_000, 1_000_000, 10_000_000)
FILL = 0.9


def _one(cur, sql: str, params=None):
    cur.execute(sql, params)
    return cur.fetchone()[0]


def member_years(cur) -> tuple[int, float]:
    """Demo members, and the years they were members up to the end of the demo year (its last posting)."""
    end = _one(cur, "SELECT max(created_at) FROM points_pointsentry")
    cur.execute(
        "SELECT count(*), sum(extract(epoch FROM %s - registered_at)) / (365.25 * 86400) FROM members_member "
        "WHERE openid LIKE 'demo%%'",
        [end],
    )
    count, years = cur.fetchone()
    return count, float(years or 0)


def bytes_per_row(cur, table: str, rows: int) -> float:
    """Estimated bytes per row at scale: heap plus every index (see the module's docstring)."""
    if not rows:
        return 0.0
    heap = float(_one(cur, f"SELECT avg(pg_column_size(t.*)) FROM {table} t")) + 28
    cur.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_expr(i.indpred, i.indrelid),
                  array(SELECT a.attname FROM unnest(i.indkey) k JOIN pg_attribute a
                        ON a.attrelid = i.indrelid AND a.attnum = k)
           FROM pg_index i WHERE i.indrelid = %s::regclass""",
        [table],
    )
    total = heap
    for _name, predicate, columns in cur.fetchall():
        width = sum(float(_one(cur, f"SELECT avg(pg_column_size({c})) FROM {table}") or 0) for c in columns)
        share = 1.0
        if predicate:
            share = _one(cur, f"SELECT count(*) FROM {table} WHERE {predicate}") / rows
        total += (width + 16) * share
    return total / FILL


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings.local")
    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cur:
        members, years = member_years(cur)
        if not members:
            raise SystemExit("no demo members here: run `python manage.py seed_demo` first")
        print(f"demo: {members:,} members, {years:,.0f} member-years\n")
        header = ["table", "rows", "rows/member-year", "bytes/row"] + [f"GB/year @{m:,}" for m in MEMBERS]
        print(" | ".join(header))
        print(" | ".join("---" for _ in header))
        totals = [0.0] * len(MEMBERS)
        for label, table in TABLES:
            rows = _one(cur, f"SELECT count(*) FROM {table}")
            rate = rows / years
            size = bytes_per_row(cur, table, rows)
            per_year = [rate * m * size / 1e9 for m in MEMBERS]
            totals = [t + p for t, p in zip(totals, per_year, strict=True)]
            print(
                f"{label} | {rows:,} | {rate:,.1f} | {size:,.0f} | "
                + " | ".join(f"{g:,.1f}" for g in per_year)
            )
        print("**all of these** | | | | " + " | ".join(f"**{g:,.1f}**" for g in totals))


if __name__ == "__main__":
    main()
