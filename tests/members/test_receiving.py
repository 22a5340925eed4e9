"""Closed accounts (注销) receive nothing: every audience and every job that gives value or reminds asks
``members.receiving``.

Most tests mark an account closed without emptying it (``shut``: it keeps its
card, points, coupons and birthday), so they prove that each job asks the
rule itself instead of relying on closure having taken everything back;
the others close it for real (``member_close``).
"""

import threading
import time
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction
from django.utils import timezone

from analytics.models import MemberTag, MemberTagging, Segment
from coupons import selectors as coupon_selectors
from coupons import services as coupon_services
from coupons.models import BulkIssue, BulkIssueTarget, Coupon, GiftPackGrant, GiftPackItem
from loyalty.errors import ApplicationError
from members.closure import member_close
from members.models import Member
from members.receiving import lock_receiving, may_receive, members_receiving, receiving_sql
from membership import birthdays, cards, member_days, tiers
from membership.models import MemberDay, Membership, MembershipCard, Tier, TierChange
from membership.services import membership_record_order
from notifications.models import Notification
from points import reminders
from points.models import PointsEntry
from tests.factories import CardTypeFactory, CouponTemplateFactory, GiftPackFactory, MemberFactory
from tests.helpers import csv_download, local, stopped_clock
from tests.membership.helpers import policy, set_tiers
from tests.points.helpers import earn
from tests.points.test_admin import staff

pytestmark = pytest.mark.django_db

NOW = local(2026, 12, 2, 12)  # a Wednesday


clock = stopped_clock(NOW)


@pytest.fixture
def entry_tier(db):
    set_tiers((0, 0))


def shut(member) -> Member:
    """Closed as the rule sees it, with nothing taken back."""
    Member.objects.filter(pk=member.pk).update(closed_at=timezone.now())
    member.refresh_from_db()
    return member


def closed_for_real(member) -> Member:
    member_close(member_id=member.pk)
    member.refresh_from_db()
    return member


def gift(name="礼包", points=10):
    p = GiftPackFactory(name=name, points=points)
    GiftPackItem.objects.create(
        pack=p, template=CouponTemplateFactory(name=f"{name}券", total_stock=10), quantity=1
    )
    return p


def told(kind) -> set[int]:
    return set(Notification.objects.filter(kind=kind).values_list("member_id", flat=True))


def granted(occasion_prefix="") -> set[int]:
    return set(
        GiftPackGrant.objects.filter(occasion__startswith=occasion_prefix).values_list("member_id", flat=True)
    )


# --- the rule ------------------------------------------------------------------------------------


def test_each_form_of_the_rule_names_the_same_members():
    kept, marked, closed = MemberFactory(), shut(MemberFactory()), closed_for_real(MemberFactory())
    everyone = [kept.pk, marked.pk, closed.pk]

    by_python = {m.pk for m in Member.objects.filter(pk__in=everyone) if may_receive(m)}
    by_queryset = set(members_receiving().filter(pk__in=everyone).values_list("pk", flat=True))
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT m.id FROM members_member m WHERE {receiving_sql('m')} AND m.id = ANY(%s)", [everyone]
        )
        by_sql = {row[0] for row in cur.fetchall()}
    with transaction.atomic():
        by_lock = lock_receiving(member_ids=everyone)

    assert by_python == by_queryset == by_sql == by_lock == {kept.pk}


# --- gift packs and coupons ----------------------------------------------------------------------------


def test_a_gift_pack_is_not_given_to_a_closed_account_and_nothing_is_written():
    member = closed_for_real(MemberFactory())
    p = gift(points=50)
    entries = PointsEntry.objects.filter(account__member=member).count()

    assert coupon_services.gift_pack_issue(pack_id=p.pk, member_id=member.pk, occasion="new_member") is None

    assert not GiftPackGrant.objects.exists()
    assert not Coupon.objects.filter(member=member).exists()
    assert PointsEntry.objects.filter(account__member=member).count() == entries
    assert p.items.get().template.issued_count == 0


def test_a_coupon_is_not_issued_to_a_closed_account():
    member = closed_for_real(MemberFactory())
    tpl = CouponTemplateFactory()

    with pytest.raises(ApplicationError) as exc:
        coupon_services.coupon_issue(template=tpl, member_id=member.pk, source="test", issue_key="k")

    assert (exc.value.code, exc.value.status_code) == ("member_closed", 409)
    tpl.refresh_from_db()
    assert tpl.issued_count == 0 and not Coupon.objects.exists()


@pytest.mark.parametrize("audience", ["everyone", "new_members", "tiers", "card_holders", "segment", "tags"])
def test_no_coupon_audience_holds_a_closed_account(audience, entry_tier):
    ct = CardTypeFactory(kind="free")
    tag = MemberTag.objects.create(name="高价值")
    member, other = MemberFactory(), MemberFactory()
    for m in (member, other):
        cards.card_claim(member_id=m.pk, card_type_id=ct.pk)
        MemberTagging.objects.create(tag=tag, member=m)
    segment = Segment.objects.create(
        name="小程序",
        rules={"op": "and", "conditions": [{"field": "registration_channel", "value": ["mini_program"]}]},
    )
    values = {"tiers": [0], "card_holders": [ct.pk], "segment": [segment.pk], "tags": [tag.pk]}.get(
        audience, []
    )
    tpl = CouponTemplateFactory(audience=audience, audience_values=values)
    shut(member)

    assert [row["template"] for row in coupon_selectors.claim_centre(member=other)] == [tpl]
    assert coupon_selectors.claim_centre(member=member) == []
    with pytest.raises(ApplicationError) as exc:
        coupon_services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="k")
    assert exc.value.code == "not_in_audience"
    tpl.refresh_from_db()
    assert tpl.issued_count == 0 and not Coupon.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("many-connections")
def test_a_gift_pack_racing_a_closure_waits_for_it_and_then_gives_nothing():
    member = MemberFactory()
    p = gift(points=50)
    locked, done, result = threading.Event(), threading.Event(), {}

    def closing():  # what member_close does first and last: lock the member row, then mark it closed
        try:
            with transaction.atomic():
                Member.objects.select_for_update().get(pk=member.pk)
                Member.objects.filter(pk=member.pk).update(closed_at=timezone.now())
                locked.set()
                time.sleep(0.5)
                result["closed_before_grant"] = not done.is_set()
        finally:
            connections.close_all()

    def granting():
        try:
            locked.wait()
            result["grant"] = coupon_services.gift_pack_issue(
                pack_id=p.pk, member_id=member.pk, occasion="member-day:1"
            )
            done.set()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=closing), threading.Thread(target=granting)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert result == {"closed_before_grant": True, "grant": None}
    assert not GiftPackGrant.objects.exists() and not Coupon.objects.exists()
    assert not PointsEntry.objects.filter(account__member=member).exists()


# --- bulk issue ----------------------------------------------------------------------------------------


def bulk_url(tpl) -> str:
    return f"/admin/coupons/coupontemplate/{tpl.pk}/bulk-issue/"


def test_a_bulk_issue_to_all_members_leaves_closed_accounts_out(client, django_capture_on_commit_callbacks):
    kept, closed = MemberFactory(), closed_for_real(MemberFactory())
    tpl = CouponTemplateFactory()
    staff(client, "ops", "coupons.view_coupontemplate", "coupons.issue_coupons", "coupons.view_bulkissue")

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(bulk_url(tpl), {"everyone": "on"}).status_code == 302

    bulk = BulkIssue.objects.get()
    assert (bulk.total, bulk.issued) == (1, 1)
    assert list(BulkIssueTarget.objects.values_list("member_id", flat=True)) == [kept.pk]
    assert list(Coupon.objects.values_list("member_id", flat=True)) == [kept.pk]
    assert closed.pk not in set(BulkIssueTarget.objects.values_list("member_id", flat=True))


def test_a_closed_account_named_in_an_uploaded_list_is_reported_skipped_with_the_reason(
    client, django_capture_on_commit_callbacks
):
    kept, closed = MemberFactory(), closed_for_real(MemberFactory())
    tpl = CouponTemplateFactory()
    staff(client, "ops", "coupons.view_coupontemplate", "coupons.issue_coupons", "coupons.view_bulkissue")
    upload = SimpleUploadedFile("members.csv", f"{kept.pk}\n{closed.pk}\n".encode())

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(bulk_url(tpl), {"members_file": upload}).status_code == 302

    bulk = BulkIssue.objects.get()
    assert (bulk.status, bulk.total, bulk.processed, bulk.issued) == ("done", 2, 2, 1)
    assert dict(BulkIssueTarget.objects.values_list("member_id", "result")) == {
        kept.pk: "issued",
        closed.pk: "closed",
    }
    _name, report = csv_download(client.get(f"/admin/coupons/bulkissue/{bulk.pk}/report.csv"))
    assert [(r["会员ID"], r["会员"], r["openid"], r["结果"]) for r in report] == [
        (str(kept.pk), str(kept), kept.openid, "已发放"),
        (str(closed.pk), f"已注销会员 #{closed.pk}", "", "已跳过：账户已注销"),  # no placeholder openid
    ]
    assert list(Coupon.objects.values_list("member_id", flat=True)) == [kept.pk]
    tpl.refresh_from_db()
    assert tpl.issued_count == 1


def test_a_member_who_closes_after_a_bulk_issue_was_queued_is_skipped_when_it_runs(admin_user):
    kept, leaving = MemberFactory(), MemberFactory()
    tpl = CouponTemplateFactory()
    bulk = coupon_services.bulk_issue_create(
        template_id=tpl.pk, member_ids=[kept.pk, leaving.pk], actor_id=admin_user.pk
    )
    closed_for_real(leaving)

    bulk = coupon_services.bulk_issue_run(bulk_issue_id=bulk.pk)

    assert (bulk.issued, bulk.processed) == (1, 2)
    assert BulkIssueTarget.objects.get(member=leaving).result == "closed"
    assert not Coupon.objects.filter(member=leaving).exists()


# --- membership jobs -------------------------------------------------------------------------------------


def test_the_member_day_push_skips_a_closed_account(entry_tier):
    kept, closed = MemberFactory(), closed_for_real(MemberFactory())
    MemberDay.objects.create(name="周三", recurrence="weekly", weekday=2, push_pack=gift())

    assert member_days.member_days_run() == 1

    assert told("member_day") == {kept.pk}
    assert granted("member-day:") == {kept.pk}
    assert closed.pk not in told("member_day")


@pytest.mark.parametrize("audience", ["everyone", "tiers", "card_holders", "tags"])
def test_no_member_day_audience_holds_a_closed_account(audience, entry_tier):
    ct = CardTypeFactory(kind="free")
    tag = MemberTag.objects.create(name="高价值")
    kept, member = MemberFactory(), MemberFactory()
    for m in (kept, member):
        cards.card_claim(member_id=m.pk, card_type_id=ct.pk, now=NOW - timedelta(days=1))
        MemberTagging.objects.create(tag=tag, member=m)
    values = {"tiers": [0], "card_holders": [ct.pk], "tags": [tag.pk]}.get(audience, [])
    md = MemberDay.objects.create(
        name="周三",
        recurrence="weekly",
        weekday=2,
        audience=audience,
        audience_values=values,
        push_pack=gift(),
    )
    shut(member)

    assert list(member_days.audience_members(md, at=NOW).values_list("pk", flat=True)) == [kept.pk]
    member_days.member_days_run()
    assert told("member_day") == granted("member-day:") == {kept.pk}


def test_birthday_gifts_skip_a_closed_account(entry_tier):
    Tier.objects.filter(level=0).update(birthday_pack=gift("生日礼包"))
    policy(birthday_mode="month")
    kept, member = MemberFactory(birthday=date(1990, 12, 20)), shut(MemberFactory(birthday=date(1991, 12, 5)))

    birthdays.birthdays_give()

    assert granted("birthday:") == {kept.pk}
    assert member.pk not in granted()


def test_monthly_card_coupons_skip_a_closed_account(entry_tier):
    ct = CardTypeFactory(kind="free", monthly_pack=gift("月礼"))
    kept, member = MemberFactory(), MemberFactory()
    for m in (kept, member):
        cards.card_claim(member_id=m.pk, card_type_id=ct.pk)
    shut(member)

    assert cards.cards_issue_monthly() == 1

    assert granted("card-monthly:") == {kept.pk}


def test_card_expiry_reminders_skip_a_closed_account(entry_tier):
    ct = CardTypeFactory(kind="free", validity="days", valid_days=3)
    kept, member = MemberFactory(), MemberFactory()
    for m in (kept, member):
        cards.card_claim(member_id=m.pk, card_type_id=ct.pk)
    shut(member)

    assert cards.cards_remind_expiring(days=7) == 1

    assert told("card_expiring") == {kept.pk}


def test_conditional_cards_caught_up_at_night_skip_a_closed_account(entry_tier):
    kept, member = MemberFactory(), MemberFactory()
    for n, m in enumerate((kept, member)):
        membership_record_order(member_id=m.pk, order_no=f"O{n}", paid_fen=100, completed_at=NOW)
    shut(member)
    CardTypeFactory(
        kind="conditional", condition="orders", condition_threshold=1, opening_pack=gift("开卡礼")
    )

    assert cards.cards_catch_up_conditional() == 1

    assert list(MembershipCard.objects.values_list("member_id", flat=True)) == [kept.pk]
    assert granted("card-open:") == {kept.pk}


def test_the_nightly_tier_recalculation_leaves_a_closed_account_as_it_closed(entry_tier):
    kept, member = MemberFactory(), MemberFactory()
    for n, m in enumerate((kept, member)):
        membership_record_order(member_id=m.pk, order_no=f"O{n}", paid_fen=10_000, completed_at=NOW)
    shut(member)
    set_tiers((0, 0), (1, 50), upgrade_packs=True)  # a level added after the orders: the night decides

    tiers.tiers_recalculate()

    assert dict(Membership.objects.values_list("member_id", "tier_level")) == {kept.pk: 1, member.pk: 0}
    assert set(TierChange.objects.values_list("member_id", flat=True)) == {kept.pk}
    assert told("tier_change") == granted("tier-upgrade:") == {kept.pk}


# --- reminders -------------------------------------------------------------------------------------------


def test_points_expiry_reminders_skip_a_closed_account():
    kept, member = MemberFactory(), MemberFactory()
    for m in (kept, member):
        earn(m, 100, expires_at=NOW + timedelta(days=2))
    shut(member)

    assert reminders.points_remind_expiring(days=7) == 1

    assert told("points_expiring") == {kept.pk}


def test_coupon_expiry_reminders_skip_a_closed_account():
    tpl = CouponTemplateFactory(valid_days=2, per_member_limit=1)
    kept, member = MemberFactory(), MemberFactory()
    for m in (kept, member):
        coupon_services.coupon_claim(member=m, template_id=tpl.pk, idempotency_key="k")
    shut(member)

    assert coupon_services.coupons_remind_expiring(days=3) == 1

    assert told("coupons_expiring") == {kept.pk}
