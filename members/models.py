import secrets

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


def _new_invite_code() -> str:
    return secrets.token_hex(4).upper()


class Member(models.Model):
    """A customer of the merchant, known by their mini-program openid."""

    class Gender(models.IntegerChoices):
        UNKNOWN = 0, _("unknown")
        MALE = 1, _("male")
        FEMALE = 2, _("female")

    openid = models.CharField(_("openid"), max_length=64, unique=True)
    unionid = models.CharField(_("unionid"), max_length=64, blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    nickname = models.CharField(_("nickname"), max_length=64, blank=True)
    avatar_url = models.URLField(_("avatar"), max_length=500, blank=True)
    gender = models.PositiveSmallIntegerField(_("gender"), choices=Gender.choices, default=Gender.UNKNOWN)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    referrer = models.ForeignKey(
        "self",
        verbose_name=_("referrer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitees",
    )
    invite_code = models.CharField(_("invite code"), max_length=16, unique=True, default=_new_invite_code)
    registration_channel = models.CharField(
        _("registration channel"), max_length=64, blank=True, db_index=True
    )
    registered_at = models.DateTimeField(_("registered at"), auto_now_add=True, db_index=True)
    # At a counter: where the member registered and who brought them; the home store starts as the
    # store of registration and operators may change it (stores/ says what a store is).
    registration_store = models.ForeignKey(
        "stores.Store",
        verbose_name=_("store of registration"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    registration_staff = models.ForeignKey(
        "stores.Staff",
        verbose_name=_("brought by staff"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    home_store = models.ForeignKey(
        "stores.Store",
        verbose_name=_("home store"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # 注销: set by members.closure; the row stays (ledgers and orders point at it), anonymised.
    closed_at = models.DateTimeField(_("account closed at"), null=True, blank=True, db_index=True)
    birthday_changed_at = models.DateTimeField(_("birthday changed at"), null=True, blank=True)

    # DRF principal for member requests (request.user is the Member).
    is_authenticated = True

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [
            models.UniqueConstraint(fields=["phone"], condition=~Q(phone=""), name="uniq_member_phone"),
        ]
        permissions = [("export_members", _("Can export members with their balances"))]

    def __str__(self):
        # A closed account's openid is a placeholder (closed_…) and its nickname and phone are gone.
        if self.closed_at is not None:
            return gettext("closed member #%(id)s") % {"id": self.pk}
        return self.nickname or self.phone or gettext("member #%(id)s") % {"id": self.pk}


class ClosedMember(Member):
    """Closed accounts (注销), for the read-only admin list."""

    class Meta:
        proxy = True
        verbose_name = _("closed account")
        verbose_name_plural = _("closed accounts")


class Channel(models.Model):
    """A channel members arrive by (a store's QR code, a poster, an ad), named by the operators.

    Members and cards keep the code the mini-program sent (``registration_channel``,
    ``MembershipCard.channel``); a row here only names it, so a code no one has named yet reads as itself
    (``members.selectors.channel_label``).
    """

    class Kind(models.TextChoices):
        STORE_QR = "store_qr", _("store QR code")
        POSTER = "poster", _("poster")
        AD = "ad", _("advertising")
        INVITE = "invite", _("invitation")
        ORGANIC = "organic", _("mini-program (organic)")
        OTHER = "other", _("other")

    code = models.CharField(
        _("channel code"),
        max_length=64,
        unique=True,
        help_text=_("As the mini-program sends it (the QR code's or the poster's scene), e.g. qr:store-01."),
    )
    name = models.CharField(_("name"), max_length=60, help_text=_("What operators read, e.g. 门店码·一号店."))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.OTHER)
    note = models.CharField(_("note"), max_length=200, blank=True)
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Inactive channels keep their name but leave the poster's list."),
    )

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["kind", "code"]

    def __str__(self):
        return self.name


class MemberToken(models.Model):
    """A mini-program session. Only the SHA-256 of the bearer token is stored."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"token #{self.pk} of member {self.member_id}"


class WechatSession(models.Model):
    """WeChat's session_key for a member: server-side only, stored encrypted.

    It is needed to decrypt data the mini-program sends (wx.getUserInfo and
    similar) and must never appear in a response or a log line.
    """

    member = models.OneToOneField(Member, on_delete=models.CASCADE, related_name="wechat_session")
    session_key_encrypted = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"WeChat session of member {self.member_id}"


class MemberCode(models.Model):
    """A 会员码: 18 digits the mini-program shows as a barcode and a QR code for ``MEMBER_CODE_SECONDS``.

    Random (not derived from the member id), unique, looked up by its index; the newest code of a member
    replaces the one before (``replaced_at``; one live code per member, by a partial unique index).  A
    code the till commits an order with is bound to that order (``order_no``) and serves no other.
    Old rows are pruned (``members.services.member_codes_prune``).
    """

    code = models.CharField(_("member code"), max_length=18, unique=True)
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    issued_at = models.DateTimeField(_("issued at"))
    expires_at = models.DateTimeField(_("expires at"))
    replaced_at = models.DateTimeField(_("replaced at"), null=True, blank=True)
    order_no = models.CharField(_("order"), max_length=64, blank=True)
    bound_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("member code")
        verbose_name_plural = _("member codes")
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=Q(replaced_at__isnull=True), name="member_code_one_live"
            ),
        ]
        indexes = [models.Index(fields=["issued_at"], name="member_code_issued")]

    def __str__(self):
        return f"{self.code[:4]}…{self.code[-2:]}"
