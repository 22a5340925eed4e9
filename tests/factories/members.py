"""Members as the mini-program registers them."""

import factory

from members.models import Member


class MemberFactory(factory.django.DjangoModelFactory):
    """A registered mini-program member with a unique openid."""

    class Meta:
        model = Member

    openid = factory.Sequence(lambda n: f"openid-{n:06d}")
    nickname = factory.Faker("name", locale="zh_CN")
    registration_channel = "mini_program"
