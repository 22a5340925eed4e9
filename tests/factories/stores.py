"""Stores and their staff; ``StaffFactory(stores={store: role})`` assigns roles, ``user=`` gives an account."""

import factory

from stores.models import Staff, StaffAssignment, Store


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.Sequence(lambda n: f"门店{n}")
    address = "杭州市西湖区文三路1号"
    opening_hours = "10:00–22:00"


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Staff
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"E{n:03d}")
    name = factory.Sequence(lambda n: f"店员{n}")

    @factory.post_generation
    def stores(staff, create, extracted, **kwargs):
        for store, role in (extracted or {}).items():
            StaffAssignment.objects.create(staff=staff, store=store, role=role)
