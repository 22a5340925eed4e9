import factory

from members.models import Member


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    openid = factory.Sequence(lambda n: f"openid-{n:06d}")
    nickname = factory.Faker("name", locale="zh_CN")
    registration_channel = "mini_program"
