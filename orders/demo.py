"""Demo orders through the real checkout, on the days members shop: quote, commit, complete, refund.

Each member shops in their own rhythm (``SHOPPERS``): some never, some once, most
every few weeks or months until they drift away, a few every week, and a few
companies buying gift boxes.  An order is quoted as the mini-program would (the
best coupons, points and stored value when the member uses them), committed,
then paid and completed minutes later; a few are cancelled or left unpaid (the
timeout job cancels them), and some are refunded, in part or whole, days later.
Member days (周三, 每月8号) bring more orders and bigger baskets, 双11 more orders.
"""

import itertools
import random
from datetime import date, datetime, timedelta

from django.utils import timezone

from membership.member_days import active_member_days
from orders import services
from orders.models import CheckoutSettings
from orders.quote import BasketInput, LineInput, compute_quote

CATALOGUE = [
    ("TEA-001", "茉莉花茶 250g", "tea", 6_800),
    ("TEA-002", "大红袍礼盒", "tea", 29_900),
    ("CUP-001", "玻璃茶杯", "teaware", 3_500),
    ("SET-001", "功夫茶具套装", "teaware", 45_800),
    ("SNACK-01", "坚果礼包", "snacks", 12_800),
]
GIFT_BOXES = [CATALOGUE[1], CATALOGUE[3]]

#: kind: (weight, days between two orders or None for at most one order)
SHOPPERS = {
    "browser": (18, None),
    "once": (27, None),
    "occasional": (28, (45, 130)),
    "regular": (20, (18, 50)),
    "vip": (5, (8, 20)),
    "company": (2, (30, 60)),
}
#: Orders by hour of the day (weights, 0-23).
HOURS = [1, 0, 0, 0, 0, 0, 0, 1, 3, 5, 7, 8, 10, 8, 6, 6, 6, 7, 9, 12, 13, 11, 7, 3]
ASK_ALL = 10**8  # "as much as I may": the clamped quote cuts it to the balance and the cap


def _moment(day: date, rng: random.Random) -> datetime:
    hour = rng.choices(range(24), weights=HOURS)[0]
    return timezone.make_aware(datetime.combine(day, datetime.min.time())) + timedelta(
        hours=hour, seconds=rng.randrange(3600)
    )


def _towards_member_day(day: date, rng: random.Random) -> date:
    """Members wait for a member day (Wednesday, the 8th) when one is near."""
    for ahead in range(4):
        later = day + timedelta(days=ahead)
        if later.weekday() == 2 or later.day == 8:
            return later if rng.random() < 0.4 else day
    return day


class Shop:
    """The demo's shop for one run: plans each member's orders on the timeline and numbers them."""

    def __init__(self, timeline):
        self.timeline = timeline
        self._numbers = itertools.count(1)
        self.timeout = timedelta(
            minutes=CheckoutSettings.objects.get_or_create(pk=1)[0].commit_timeout_minutes
        )
        self.sales = [day for day in timeline.days() if (day.month, day.day) == (11, 1)]  # 双11 starts

    def plan_member(self, persona) -> None:
        """The member's shopping rhythm: the first order soon after joining (often the same day, with
        the new-member coupons), the next ones after the rhythm's gaps while the member is active."""
        rng = persona.rng
        kind = (
            "vip"
            if persona.loyal
            else rng.choices(list(SHOPPERS), weights=[w for w, _ in SHOPPERS.values()])[0]
        )
        if kind == "browser":
            return
        first = persona.joined + timedelta(minutes=rng.uniform(5, 90))
        if rng.random() > 0.55:
            first = _moment(timezone.localdate(persona.joined) + timedelta(days=rng.randint(1, 30)), rng)
        self.timeline.at(first, lambda: self._order(persona, kind))
        # 双11: active members who joined before it buy once more in the sale.
        for start in self.sales:
            sale = _moment(start + timedelta(days=rng.randint(0, 10)), rng)
            if persona.joined < sale < persona.active_until and rng.random() < 0.3:
                self.timeline.at(sale, lambda: self._order(persona, kind, again=False))

    def _next(self, persona, kind: str) -> None:
        gaps = SHOPPERS[kind][1]
        if gaps is None:
            return
        rng = persona.rng
        day = timezone.localdate() + timedelta(days=round(rng.uniform(*gaps)))
        moment = _moment(_towards_member_day(day, rng), rng)
        if moment < persona.active_until:
            self.timeline.at(moment, lambda: self._order(persona, kind))

    def _basket(self, rng: random.Random, kind: str) -> BasketInput:
        if kind == "company":
            picks = [(item, rng.randint(3, 8)) for item in rng.sample(GIFT_BOXES, k=rng.randint(1, 2))]
        else:
            picks = [
                (item, rng.choice([1, 1, 1, 2, 2, 3]))
                for item in rng.sample(CATALOGUE, k=rng.choice([1, 1, 2, 2, 3]))
            ]
        if active_member_days(at=timezone.now()):  # member days sell more
            picks[0] = (picks[0][0], picks[0][1] + 1)
        lines = tuple(
            LineInput(sku=sku, name=name, category=category, unit_price_fen=price, quantity=quantity)
            for (sku, name, category, price), quantity in picks
        )
        return BasketInput(lines=lines, shipping_fen=rng.choice([0, 0, 0, 800, 1_200]))

    def _order(self, persona, kind: str, again: bool = True) -> None:
        """Quote, commit, then (scheduled) pay and complete, cancel, or leave unpaid."""
        if again:
            self._next(persona, kind)
        rng, member_id = persona.rng, persona.member.pk
        basket = self._basket(rng, kind)
        # The member pays with points now and then, and with stored value whenever there is some.
        wanted = BasketInput(
            lines=basket.lines,
            shipping_fen=basket.shipping_fen,
            points=ASK_ALL if rng.random() < 0.3 else 0,
            stored_value_fen=ASK_ALL if rng.random() < 0.85 else 0,
        )
        seen = compute_quote(member_id=member_id, basket=wanted, clamp=True)
        basket = BasketInput(
            lines=basket.lines,
            shipping_fen=basket.shipping_fen,
            points=seen.points,
            stored_value_fen=seen.stored_value_fen,
        )
        order_no = f"DEMO-{timezone.localdate():%Y%m%d}-{next(self._numbers):05d}"
        services.order_commit(
            member_id=member_id, order_no=order_no, basket=basket, quote_hash=seen.fingerprint
        )
        now, fate = timezone.now(), rng.random()
        if fate < 0.03:
            self.timeline.at(
                now + timedelta(minutes=rng.uniform(1, 10)),
                lambda: services.order_cancel(order_no=order_no, reason="customer"),
            )
        elif fate < 0.07:  # never paid: the timeout job (every 5 minutes) cancels it
            self.timeline.at(
                now + self.timeout + timedelta(minutes=rng.uniform(0, 5)), services.orders_cancel_expired
            )
        else:
            self.timeline.at(
                now + timedelta(minutes=rng.uniform(1, 12)), lambda: self._complete(rng, order_no)
            )

    def _complete(self, rng: random.Random, order_no: str) -> None:
        order = services.order_complete(order_no=order_no).order
        later = timezone.now() + timedelta(days=rng.uniform(1, 12), hours=rng.uniform(0, 6))
        roll = rng.random()
        if roll < 0.03:
            self.timeline.at(
                later, lambda: services.order_refund(order_no=order_no, refund_no=f"{order_no}-R1")
            )
        elif roll < 0.09:
            lines = list(order.lines.order_by("line_no").values_list("line_no", "quantity"))
            if sum(quantity for _, quantity in lines) > 1:
                line_no = next(no for no, quantity in lines if quantity > 1 or len(lines) > 1)
                self.timeline.at(
                    later,
                    lambda: services.order_refund(
                        order_no=order_no, refund_no=f"{order_no}-R1", lines=[(line_no, 1)]
                    ),
                )
