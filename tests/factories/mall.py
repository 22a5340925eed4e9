"""Points-mall items."""

import factory

from mall.models import MallItem


class MallItemFactory(factory.django.DjangoModelFactory):
    """A physical item for 500 points, 10 in stock."""

    class Meta:
        model = MallItem

    name = "保温杯"
    kind = "physical"
    points = 500
    stock = 10
