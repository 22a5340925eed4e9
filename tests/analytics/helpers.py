"""Members' registration times and the clock, as the analytics tests set them (orders: ``OrderFactory``)."""

from datetime import datetime

from django.utils import timezone


def registered(member, at) -> None:
    type(member).objects.filter(pk=member.pk).update(registered_at=at)


def now() -> datetime:
    return timezone.now()
