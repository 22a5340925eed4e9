"""The hand-written order statements of the hot path write and read what the ORM would."""

from datetime import timedelta

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from orders import rows
from orders.models import Order, OrderEvent, OrderLine
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def new_order(member) -> tuple[Order, list[OrderLine]]:
    now = timezone.now()
    order = Order(
        order_no="R-1",
        member=member,
        status="committed",
        request_hash="r" * 64,
        quote_hash="q" * 64,
        goods_fen=9_780,
        shipping_fen=800,
        benefit_discount_fen=0,
        coupon_discount_fen=100,
        shipping_discount_fen=0,
        points_used=0,
        points_fen=0,
        stored_value_fen=5_000,
        cash_fen=5_480,
        shipping_cash_fen=800,
        coupon_ids=[7, 9],
        benefit_sources={"discount": "tier:1 '引号'"},
        stored_value_entry_id=42,
        committed_at=now,
        expires_at=now + timedelta(minutes=30),
    )
    lines = [
        OrderLine(
            order=order,
            line_no=n,
            sku=f"S{n}",
            category="茶",
            name=f"line {n}",
            unit_price_fen=100 * n,
            quantity=n,
            amount_fen=100 * n * n,
            benefit_discount_fen=0,
            coupon_discount_fen=0,
            points=0,
            points_fen=0,
            stored_value_fen=0,
            cash_fen=100 * n * n,
        )
        for n in (1, 2, 3)
    ]
    return order, lines


def test_a_new_order_its_lines_and_event_are_one_statement_and_read_back_as_the_orm_reads_them(
    django_assert_num_queries,
):
    order, lines = new_order(MemberFactory())

    with django_assert_num_queries(1):
        rows.insert_order(order, lines, rows.new_event(order, kind="commit", to_status="committed"))

    stored = Order.objects.get(pk=order.pk)
    assert model_to_dict(stored) == model_to_dict(order)
    assert [model_to_dict(x) for x in stored.lines.order_by("line_no")] == [model_to_dict(x) for x in lines]
    assert [line.pk for line in lines] == list(stored.lines.order_by("line_no").values_list("pk", flat=True))
    assert list(OrderEvent.objects.filter(order=stored).values_list("kind", "to_status")) == [
        ("commit", "committed")
    ]
    locked = rows.lock_order("R-1")
    assert model_to_dict(locked) == model_to_dict(stored)
    assert locked.coupon_ids == [7, 9] and locked.benefit_sources == {"discount": "tier:1 '引号'"}
    assert rows.lock_order("R-404") is None


def test_a_transition_writes_its_event_and_the_named_columns_only(django_assert_num_queries):
    order, lines = new_order(MemberFactory())
    rows.insert_order(order, lines, rows.new_event(order, kind="commit", to_status="committed"))
    Order.objects.filter(pk=order.pk).update(earned_points=5)  # not named below: must stay
    order.status, order.completed_at, order.cash_fen = "completed", timezone.now(), 1  # cash_fen not named

    with django_assert_num_queries(1):
        rows.save_transition(
            order,
            rows.new_event(order, kind="complete", from_status="committed", to_status="completed"),
            ["completed_at"],
        )

    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.completed_at, stored.cash_fen, stored.earned_points) == (
        "completed",
        order.completed_at,
        5_480,
        5,
    )
    assert OrderEvent.objects.filter(order=stored, kind="complete", from_status="committed").count() == 1


def test_an_orders_existence_and_line_values_are_what_the_orm_reads():
    order, lines = new_order(MemberFactory())
    assert rows.order_exists("R-1") is False
    rows.insert_order(order, lines, rows.new_event(order, kind="commit", to_status="committed"))
    assert rows.order_exists("R-1") is True
    names = ["line_no", "sku", "amount_fen", "cash_fen"]
    assert rows.line_values(order.pk, names) == list(
        OrderLine.objects.filter(order=order).order_by("line_no").values(*names)
    )
