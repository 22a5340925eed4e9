"""门店 and the people who work in them.

A store is where something happened at a counter: the orders, recharges, card
claims, redemptions and registrations of the apps above carry it (nullable:
online stays online).  Staff are the merchant's people, known by a 工号 the
till and staff QR codes carry; a staff member may sign in (a back-office user)
and works in one or more stores, in a role per store.  Which stores a signed-in
user may see and act on is decided in one place, ``stores/scoping.py``.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

code_validator = RegexValidator(
    r"^[A-Za-z0-9_-]{1,32}$", _("Use letters, digits, - and _ only (at most 32 characters).")
)


class StoreStatus(models.TextChoices):
    OPEN = "open", _("open")
    PAUSED = "paused", _("temporarily closed")
    CLOSED = "closed", _("closed for good")


class Store(models.Model):
    code = models.CharField(
        _("store code"),
        max_length=32,
        unique=True,
        validators=[code_validator],
        help_text=_("The code the till and the store's QR codes send, for example SH-001."),
    )
    name = models.CharField(_("name"), max_length=64)
    address = models.CharField(_("address"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    opening_hours = models.CharField(
        _("opening hours"), max_length=64, blank=True, help_text=_("For example 10:00–22:00.")
    )
    status = models.CharField(
        _("status"), max_length=8, choices=StoreStatus.choices, default=StoreStatus.OPEN
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["code"]

    def __str__(self):
        return self.name


class StoreRole(models.TextChoices):
    MANAGER = "manager", _("store manager")
    CLERK = "clerk", _("clerk")
    ASSOCIATE = "associate", _("sales associate")


class Staff(models.Model):
    """One of the merchant's people; ``user`` when they sign in (the admin, the clerk page)."""

    code = models.CharField(
        _("staff code"),
        max_length=32,
        unique=True,
        validators=[code_validator],
        help_text=_("The 工号 on staff QR codes and at the till, for example S012."),
    )
    name = models.CharField(_("name"), max_length=64)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("back-office account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        ordering = ["code"]

    def __str__(self):
        return f"{self.name}（{self.code}）"


class StaffAssignment(models.Model):
    """A staff member's role in one store."""

    staff = models.ForeignKey(
        Staff, verbose_name=_("staff member"), on_delete=models.CASCADE, related_name="assignments"
    )
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="assignments"
    )
    role = models.CharField(_("role"), max_length=10, choices=StoreRole.choices)

    class Meta:
        verbose_name = _("store role")
        verbose_name_plural = _("store roles")
        constraints = [models.UniqueConstraint(fields=["staff", "store"], name="stores_one_role_per_store")]

    def __str__(self):
        return f"{self.staff} · {self.store} · {self.get_role_display()}"
