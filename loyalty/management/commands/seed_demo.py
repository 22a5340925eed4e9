"""Load the demo: a year of a shop's loyalty programme, lived day by day through the real services.

The year ends now.  At its start an operator sets up the programme (coupon
templates and the new-member gift pack, recharge plans, cards and member
days, the points mall, subscription templates, the points' expiry); then
members sign up (more each month), shop, check in, claim coupons, recharge,
try and buy cards and redeem points on their own days, and the nightly jobs
expire points and coupons, recalculate tiers and complete shipped
redemptions.  Each event runs under ``loyalty.demo.clock`` at its moment, in
time order (``loyalty.demo.Timeline``), so every ledger entry, coupon, tier
change and card event is dated when it happened.  The report tables and RFM
are then computed for the year.

Runs once: when the demo members exist, only the reports and RFM are
refreshed.  Deterministic for a given ``--seed``.
"""

import json
import random
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db.models import Count, Q
from django.utils import timezone

from analytics.demo import refresh_reports, seed_segments
from coupons.demo import Coupons
from coupons.models import Coupon
from growth import demo as growth_demo
from loyalty import services, sql
from loyalty.demo import Persona, Timeline, clock
from loyalty.models import ApiClient
from mall.demo import Mall
from mall.models import Redemption
from members import demo as members_demo
from members.models import Member
from membership.demo import Membership
from membership.models import CardEvent, TierChange
from migration import demo as migration_demo
from notifications import demo as notifications_demo
from orders.demo import Shop
from orders.models import Order
from points import demo as points_demo
from points.models import CheckIn, PointsEntry
from stored_value.demo import Recharges
from stored_value.models import RechargeOrder
from stores import demo as stores_demo

DEMO_CLIENT_FILE = "demo-api-client.json"
CLOSING_MEMBERS = 3


class Command(BaseCommand):
    help = "Load the demo: a year of members, orders, points, coupons, stored value, cards and the mall, dated across it."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=300)
        parser.add_argument("--seed", type=int, default=20261122)

    def handle(self, *args, members, seed, **options):
        rng = random.Random(seed)
        if Member.objects.filter(openid__startswith="demo_").exists():
            self.stdout.write("the demo year is there already: nothing added")
        else:
            end = timezone.now()
            timeline = Timeline(start=end - timedelta(days=365), end=end)
            with sql.commits_unflushed():  # thousands of small transactions
                self._plan_year(timeline, members=members, seed=seed, rng=rng)
                timeline.run()
            self._report(timeline)
            self.stdout.write(growth_demo.seed(clock=clock))
        self.stdout.write(f"channels: {members_demo.seed_channels()} named")
        counter = stores_demo.attribute_counter_share()
        self.stdout.write(
            f"stores: {len(stores_demo.STORES)} stores with staff; at their counters: {counter}"
        )
        self.stdout.write(f"analytics: {seed_segments(rng=rng)} segments added")
        refresh_reports()
        self.stdout.write("analytics: report tables refreshed for the year, RFM computed")
        sample = migration_demo.seed_sample_import()
        if sample is not None:
            self.stdout.write(
                f"import: the old system's file {sample.filename} uploaded and dry-run "
                f"({sample.row_count} rows, {sample.error_rows} with errors): 会员导入 in the admin"
            )
        client = self._demo_api_client()
        self.stdout.write(f"demo API client: {client['key_id']} (secret in .data/{DEMO_CLIENT_FILE})")

    def _plan_year(self, timeline: Timeline, *, members: int, seed: int, rng: random.Random) -> None:
        """The operator's set-up at the start of the year; every member's year from their sign-up; the jobs."""
        with clock(timeline.start):
            points_demo.configure_points()
            notifications_demo.configure_templates()
            coupons = Coupons(timeline)
            recharges = Recharges(timeline)
            membership = Membership(timeline)
            shop = Shop(timeline)
            mall = Mall(timeline, rng=rng)
        plans = [
            lambda p: points_demo.plan_member(timeline, p),
            lambda p: notifications_demo.plan_member(timeline, p),
            coupons.plan_member,
            recharges.plan_member,
            membership.plan_member,
            shop.plan_member,
            mall.plan_member,
        ]
        joined: list[Member] = []

        def sign_up(n: int) -> None:
            member = members_demo.member_register(n=n, rng=rng, inviters=joined)
            joined.append(member)
            own, now, loyal = random.Random(f"{seed}:{n}"), timezone.now(), n == 0
            until = now + members_demo.lifetime(own, loyal=loyal)
            persona = Persona(member=member, joined=now, active_until=until, rng=own, loyal=loyal)
            for plan in plans:
                plan(persona)

        for n, moment in enumerate(
            members_demo.arrivals(count=members, start=timeline.start, end=timeline.end, rng=rng)
        ):
            timeline.at(moment, lambda n=n: sign_up(n))
        members_demo.plan_closures(timeline, count=CLOSING_MEMBERS, rng=rng)
        points_demo.plan_nightly(timeline)
        coupons.plan_nightly()
        membership.plan_nightly()
        mall.plan_nightly()

    def _report(self, timeline: Timeline) -> None:
        first, last = timezone.localdate(timeline.start), timezone.localdate(timeline.end)
        self.stdout.write(f"demo year {first} .. {last}: {timeline.ran} events")
        members = Member.objects.aggregate(
            open=Count("pk", filter=Q(closed_at__isnull=True)), closed=Count("closed_at")
        )
        self.stdout.write(f"members: {members['open']} signed up, {members['closed']} closed their account")
        orders = dict(Order.objects.values_list("status").annotate(n=Count("pk")))
        self.stdout.write(f"orders: {sum(orders.values())} through the checkout {orders}")
        points = dict(PointsEntry.objects.values_list("kind").annotate(n=Count("pk")))
        self.stdout.write(
            f"points: {sum(points.values())} ledger entries {points}, {CheckIn.objects.count()} check-ins"
        )
        coupons = dict(Coupon.objects.values_list("status").annotate(n=Count("pk")))
        self.stdout.write(f"coupons: {sum(coupons.values())} issued {coupons}")
        recharges = dict(RechargeOrder.objects.values_list("status").annotate(n=Count("pk")))
        self.stdout.write(
            f"stored value: {sum(recharges.values())} recharges paid (fake WeChat Pay) {recharges}"
        )
        self.stdout.write(
            f"membership: {TierChange.objects.count()} tier changes, {CardEvent.objects.count()} card events"
        )
        self.stdout.write(f"points mall: {Redemption.objects.count()} redemptions")

    def _demo_api_client(self) -> dict:
        path = settings.BASE_DIR / ".data" / DEMO_CLIENT_FILE
        if path.exists():
            saved = json.loads(path.read_text())
            if ApiClient.objects.filter(key_id=saved["key_id"]).exists():
                return saved
        client, secret = services.api_client_create(name="演示收银系统")
        saved = {"key_id": client.key_id, "secret": secret}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved))
        path.chmod(0o600)
        return saved
