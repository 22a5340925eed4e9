"""Operators: staff users who act in the admin."""

import factory
from django.contrib.auth.models import User


class OperatorFactory(factory.django.DjangoModelFactory):
    """A staff user, the recorded actor of adjustments, refunds and voids."""

    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"operator-{n}")
    is_staff = True
