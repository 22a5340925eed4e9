"""Demo subscription messages: templates for the points and coupon reminders, and members' consents."""

from datetime import timedelta

from notifications import services
from notifications.models import WechatTemplate

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


def configure_templates() -> None:
    """Map the two reminders to (demo) templates, as an operator does once."""
    for template in TEMPLATES:
        WechatTemplate.objects.create(**template)


def plan_member(timeline, persona) -> None:
    """About a third of members answer the subscription prompts (1-3 of each, mostly accepting) as they
    use the mini-program in their first days."""
    rng = persona.rng
    if rng.random() >= 0.33 and not persona.loyal:
        return
    for template in TEMPLATES:
        for _ in range(rng.randint(1, 3)):
            answer = "accept" if rng.random() < 0.8 else "reject"
            timeline.at(
                persona.joined + timedelta(days=rng.uniform(0, 10)),
                _report(persona.member.pk, {template["template_id"]: answer}),
            )


def _report(member_id: int, results: dict):
    return lambda: services.subscription_report(member_id=member_id, results=results)
