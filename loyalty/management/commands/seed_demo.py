"""Load the demo data set (safe to run again: it only adds what is missing)."""

import json
import random

from django.conf import settings
from django.core.management.base import BaseCommand

from analytics.demo import seed_analytics
from coupons.demo import seed_coupons
from loyalty import services
from loyalty.models import ApiClient
from mall.demo import seed_mall
from members.demo import seed_channels, seed_closures, seed_members
from membership.demo import seed_membership
from notifications.demo import seed_notifications
from orders.demo import seed_orders
from points.demo import seed_points
from stored_value.demo import seed_stored_value

DEMO_CLIENT_FILE = "demo-api-client.json"


class Command(BaseCommand):
    help = "Load demo members, recharge plans and paid recharges, and a demo API client for the order system."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=300)
        parser.add_argument("--seed", type=int, default=20261122)

    def handle(self, *args, members, seed, **options):
        rng = random.Random(seed)
        added = seed_members(count=members, rng=rng)
        self.stdout.write(f"members: {added} added")
        self.stdout.write(f"channels: {seed_channels()} named")
        self.stdout.write(f"points: {seed_points(rng=rng)} ledger entries (sign-up, purchases, spends)")
        self.stdout.write(f"coupons: {seed_coupons(rng=rng)} issued")
        self.stdout.write(f"stored value: {seed_stored_value(rng=rng)} recharges paid (fake WeChat Pay)")
        self.stdout.write(f"subscription messages: {seed_notifications(rng=rng)} consents recorded")
        self.stdout.write(f"account closures: {seed_closures()} accounts closed")
        membership = seed_membership(rng=rng)
        self.stdout.write(
            f"membership: {membership['orders']} completed orders (growth, tiers), {membership['claims']} cards claimed"
        )
        self.stdout.write(f"orders: {seed_orders(rng=rng)} checked out (some refunded or cancelled)")
        self.stdout.write(f"points mall: {seed_mall(rng=rng)} redemptions")
        self.stdout.write(f"analytics: {seed_analytics(rng=rng)} history orders; reports and RFM computed")
        client = self._demo_api_client()
        self.stdout.write(f"demo API client: {client['key_id']} (secret in .data/{DEMO_CLIENT_FILE})")

    def _demo_api_client(self) -> dict:
        path = settings.BASE_DIR / ".data" / DEMO_CLIENT_FILE
        if path.exists():
            saved = json.loads(path.read_text())
            if ApiClient.objects.filter(key_id=saved["key_id"]).exists():
                return saved
        client, secret = services.api_client_create(name="Demo order system")
        saved = {"key_id": client.key_id, "secret": secret}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved))
        path.chmod(0o600)
        return saved
