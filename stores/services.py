"""Writes for stores and staff: a staff member's back-office account and the groups of their roles."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from loyalty import locks
from stores.exceptions import StaffHasAccount, UsernameTaken
from stores.models import Staff
from stores.roles import ROLE_GROUPS


@locks.takes(locks.Rank.DOCUMENT)  # the staff row: back-office configuration, no ledger under it
@transaction.atomic
def staff_groups_sync(*, staff_id: int) -> None:
    """The staff member's account is in the group of each role they hold (none when inactive).

    Other groups an operator gave the account stay; only the store-role groups
    are set.  Safe to run again: it sets, never adds twice.
    """
    staff = Staff.objects.select_for_update().get(pk=staff_id)
    if staff.user is None:
        return
    roles = set(staff.assignments.values_list("role", flat=True)) if staff.active else set()
    wanted = {ROLE_GROUPS[role] for role in roles}
    for name in ROLE_GROUPS.values():
        group, _ = Group.objects.get_or_create(name=name)
        if name in wanted:
            staff.user.groups.add(group)
        else:
            staff.user.groups.remove(group)


@locks.takes(locks.Rank.DOCUMENT)
@transaction.atomic
def staff_account_create(*, staff_id: int, username: str, password: str = "") -> Staff:
    """Give a staff member a back-office account, new or an existing one, in their roles' groups.

    An existing account is linked when it is not a superuser and belongs to no
    other staff member (else ``username_taken``); a new one is created with
    ``password`` (unusable without one).  Refused when the staff member has an
    account already (``staff_has_account``).  Either way the account may sign
    in to the back office and is scoped to the staff member's stores.
    """
    User = get_user_model()
    staff = Staff.objects.select_for_update().get(pk=staff_id)
    if staff.user_id is not None:
        raise StaffHasAccount()
    user = User.objects.select_for_update().filter(username=username).first()
    if user is not None:
        if user.is_superuser or Staff.objects.filter(user=user).exists():
            raise UsernameTaken()
    else:
        try:
            with transaction.atomic():  # a concurrent request took the name: the unique username decides
                user = User.objects.create_user(username=username, password=password or None)
        except IntegrityError as exc:
            raise UsernameTaken() from exc
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    staff.user = user
    staff.save(update_fields=["user"])
    staff_groups_sync(staff_id=staff.pk)
    return staff
