import secrets

from django.db import models
from django.db.models import Q
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

    def __str__(self):
        return self.nickname or self.phone or self.openid


class ClosedMember(Member):
    """Closed accounts (注销), for the read-only admin list."""

    class Meta:
        proxy = True
        verbose_name = _("closed account")
        verbose_name_plural = _("closed accounts")


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
