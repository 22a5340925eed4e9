"""Membership card types."""

import factory

from membership.models import CardType


class CardTypeFactory(factory.django.DjangoModelFactory):
    """A card of ``kind``: free; paid at ¥19.90 a month; or conditional on ¥1,000 paid spend."""

    class Meta:
        model = CardType

    kind = "free"
    name = factory.LazyAttribute(lambda card: f"{card.kind} card")
    price_fen = factory.LazyAttribute(lambda card: 1_990 if card.kind == "paid" else 0)
    period = "month"
    condition = factory.LazyAttribute(lambda card: "paid_spend" if card.kind == "conditional" else "")
    condition_threshold = factory.LazyAttribute(lambda card: 100_000 if card.kind == "conditional" else 0)
