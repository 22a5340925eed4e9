"""Demo subscription messages: templates for the points and coupon reminders, and members' consents."""

import random

from members.models import Member
from notifications import services
from notifications.models import SubscribeConsent, WechatTemplate

TEMPLATES = [
    {
        "kind": "points_expiring",
        "template_id": "demo-points-expiring",
        "page": "pages/points/index",
        "field_map": {
            "thing1": "{title}",
            "number2": "{points}",
            "date3": "{expires_at|date}",
            "thing4": "请及时使用",
        },
    },
    {
        "kind": "coupons_expiring",
        "template_id": "demo-coupons-expiring",
        "page": "pages/coupons/index",
        "field_map": {"thing1": "{title}", "number2": "{count}", "date3": "{expires_at|date}"},
    },
]


def seed_notifications(*, rng: random.Random) -> int:
    """Map the two reminders to (demo) templates; about a third of members accept 1–3 of each.

    Returns how many consents were recorded (0 when done before).
    """
    if WechatTemplate.objects.exists():
        return 0
    for template in TEMPLATES:
        WechatTemplate.objects.create(**template)
    recorded = 0
    for member_id in (
        Member.objects.filter(closed_at__isnull=True).order_by("id").values_list("pk", flat=True)
    ):
        if rng.random() >= 0.33:
            continue
        for template in TEMPLATES:
            for _ in range(rng.randint(1, 3)):
                answer = "accept" if rng.random() < 0.8 else "reject"
                services.subscription_report(member_id=member_id, results={template["template_id"]: answer})
                recorded += 1
    return recorded if SubscribeConsent.objects.exists() else 0
