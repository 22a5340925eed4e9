"""Analytics tables: RFM runs and scores, segments and tags, and the precomputed report tables.

Everything here is derived from the ledgers and orders (never the other way
round): a report table can be dropped and rebuilt by its job at any time.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class RfmSegment(models.TextChoices):
    """The eight classic RFM segments: R, F and M each high (score >= 3) or low."""

    IMPORTANT_VALUE = "important_value", _("important value")
    IMPORTANT_DEVELOP = "important_develop", _("important to develop")
    IMPORTANT_KEEP = "important_keep", _("important to keep")
    IMPORTANT_RETAIN = "important_retain", _("important to win back")
    GENERAL_VALUE = "general_value", _("general value")
    GENERAL_DEVELOP = "general_develop", _("general to develop")
    GENERAL_KEEP = "general_keep", _("general to keep")
    GENERAL_RETAIN = "general_retain", _("general to win back")


class AnalyticsSettings(models.Model):
    """One row (pk=1), edited in the admin."""

    rfm_window_days = models.PositiveIntegerField(
        _("RFM window (days)"),
        default=365,
        help_text=_("Purchases completed within this many days before the run count for RFM."),
    )

    class Meta:
        verbose_name = _("analytics settings")
        verbose_name_plural = _("analytics settings")
        constraints = [
            models.CheckConstraint(condition=Q(rfm_window_days__gte=1), name="analytics_window_positive")
        ]

    def __str__(self):
        return str(_("analytics settings"))


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class RfmRun(models.Model):
    """One RFM calculation: its window, the cut points it found and how far it got."""

    as_of = models.DateTimeField(_("as of"))
    window_days = models.PositiveIntegerField(_("window (days)"))
    status = models.CharField(_("status"), max_length=8, choices=RunStatus.choices, default=RunStatus.QUEUED)
    steps_done = models.PositiveSmallIntegerField(_("steps done"), default=0)
    steps_total = models.PositiveSmallIntegerField(_("steps"), default=2)
    members_scored = models.PositiveIntegerField(_("members scored"), default=0)
    cut_points = models.JSONField(_("cut points"), default=dict, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("RFM run")
        verbose_name_plural = _("RFM runs")
        ordering = ["-id"]

    def __str__(self):
        return f"RFM #{self.pk} ({self.as_of:%Y-%m-%d})"


class RfmScore(models.Model):
    """A member's latest RFM (one row per member who purchased within the window of the latest run)."""

    member = models.OneToOneField(
        "members.Member",
        verbose_name=_("member"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="rfm",
    )
    run = models.ForeignKey(RfmRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="+")
    last_purchase_at = models.DateTimeField(_("last purchase"))
    recency_days = models.PositiveIntegerField(_("recency (days)"))
    frequency = models.PositiveIntegerField(_("frequency"))
    monetary_fen = models.BigIntegerField(_("monetary"))
    r_score = models.PositiveSmallIntegerField("R")
    f_score = models.PositiveSmallIntegerField("F")
    m_score = models.PositiveSmallIntegerField("M")
    segment = models.CharField(_("RFM segment"), max_length=20, choices=RfmSegment.choices, db_index=True)

    class Meta:
        verbose_name = _("RFM score")
        verbose_name_plural = _("RFM scores")
        constraints = [
            models.CheckConstraint(
                condition=Q(r_score__range=(1, 5)) & Q(f_score__range=(1, 5)) & Q(m_score__range=(1, 5)),
                name="rfm_scores_1_to_5",
            )
        ]

    def __str__(self):
        return f"{self.member_id}: {self.get_segment_display()} {self.r_score}{self.f_score}{self.m_score}"


class MemberTag(models.Model):
    """An operator's tag (标签) put on members by hand or from a file."""

    name = models.CharField(_("name"), max_length=40, unique=True)
    members = models.ManyToManyField(
        "members.Member", verbose_name=_("members"), through="MemberTagging", related_name="tags", blank=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("member tag")
        verbose_name_plural = _("member tags")
        ordering = ["name"]

    def __str__(self):
        return self.name


class MemberTagging(models.Model):
    tag = models.ForeignKey(MemberTag, verbose_name=_("tag"), on_delete=models.CASCADE)
    member = models.ForeignKey("members.Member", verbose_name=_("member"), on_delete=models.CASCADE)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tagged member")
        verbose_name_plural = _("tagged members")
        constraints = [models.UniqueConstraint(fields=["tag", "member"], name="uniq_member_tagging")]
        indexes = [models.Index(fields=["member", "tag"], name="tagging_member")]

    def __str__(self):
        return f"{self.tag_id} · {self.member_id}"


class Segment(models.Model):
    """A rule-based segment (人群): a JSON tree of AND/OR groups compiled to one SQL WHERE (see segments.py)."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    rules = models.JSONField(_("rules"), default=dict)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self):
        return self.name


# --- precomputed report tables (rebuilt by analytics.reports; the dashboard reads only these) -----------


class DailyMetrics(models.Model):
    """One merchant-local day: purchases, new members, points and coupon movements."""

    day = models.DateField(_("day"), primary_key=True)
    purchases = models.PositiveIntegerField(_("purchases"), default=0)
    buyers = models.PositiveIntegerField(_("buyers"), default=0)
    sales_fen = models.BigIntegerField(_("net paid"), default=0)
    new_members = models.PositiveIntegerField(_("new members"), default=0)
    points_earned = models.BigIntegerField(_("points issued"), default=0)
    points_spent = models.BigIntegerField(_("points redeemed"), default=0)
    points_expired = models.BigIntegerField(_("points expired"), default=0)
    coupons_issued = models.PositiveIntegerField(_("coupons issued"), default=0)
    coupons_used = models.PositiveIntegerField(_("coupons used"), default=0)
    bonus_issued_fen = models.BigIntegerField(_("bonus issued"), default=0)
    bonus_forfeited_fen = models.BigIntegerField(_("bonus forfeited"), default=0)
    is_member_day = models.BooleanField(_("member day"), default=False)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("daily figures")
        verbose_name_plural = _("daily figures")
        ordering = ["day"]

    def __str__(self):
        return self.day.isoformat()


class MonthlyMetrics(models.Model):
    """One merchant-local month: buyers, repeat buyers (复购) and the month's first-purchase cohort."""

    month = models.DateField(_("month"), primary_key=True)
    buyers = models.PositiveIntegerField(_("buyers"), default=0)
    repeat_buyers = models.PositiveIntegerField(_("repeat buyers"), default=0)
    active_members = models.PositiveIntegerField(_("active members"), default=0)
    cohort_size = models.PositiveIntegerField(_("first-time buyers"), default=0)
    cohort_30 = models.PositiveIntegerField(_("again within 30 days"), default=0)
    cohort_60 = models.PositiveIntegerField(_("again within 60 days"), default=0)
    cohort_90 = models.PositiveIntegerField(_("again within 90 days"), default=0)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("monthly figures")
        verbose_name_plural = _("monthly figures")
        ordering = ["month"]

    def __str__(self):
        return self.month.strftime("%Y-%m")


class AttributionDaily(models.Model):
    """New members per day by registration channel, and card claims by channel and staff."""

    class Kind(models.TextChoices):
        REGISTRATION = "registration", _("registration channel")
        CARD_CHANNEL = "card_channel", _("card claim channel")
        CARD_STAFF = "card_staff", _("card claim staff")

    day = models.DateField(_("day"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    key = models.CharField(_("channel"), max_length=64, blank=True)
    count = models.PositiveIntegerField(_("count"))

    class Meta:
        verbose_name = _("attribution")
        verbose_name_plural = _("attribution")
        constraints = [models.UniqueConstraint(fields=["day", "kind", "key"], name="uniq_attribution_day")]

    def __str__(self):
        return f"{self.day} {self.kind} {self.key}"


class CouponDaily(models.Model):
    """Coupons issued and used per template and day."""

    day = models.DateField(_("day"))
    template = models.ForeignKey(
        "coupons.CouponTemplate",
        verbose_name=_("coupon template"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    issued = models.PositiveIntegerField(_("issued"), default=0)
    used = models.PositiveIntegerField(_("used"), default=0)

    class Meta:
        verbose_name = _("coupon figures")
        verbose_name_plural = _("coupon figures")
        constraints = [models.UniqueConstraint(fields=["day", "template"], name="uniq_coupon_day")]

    def __str__(self):
        return f"{self.day} #{self.template_id}"


class ReportRun(models.Model):
    """A refresh of the report tables over a range of days."""

    start = models.DateField(_("from"))
    end = models.DateField(_("to"))
    status = models.CharField(_("status"), max_length=8, choices=RunStatus.choices, default=RunStatus.QUEUED)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("report refresh")
        verbose_name_plural = _("report refreshes")
        ordering = ["-id"]

    def __str__(self):
        return f"{self.start} – {self.end}"
