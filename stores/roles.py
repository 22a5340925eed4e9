"""The store roles as back-office groups: 店长, 店员 (核销员), 导购.

A staff member's account is in the group of each role they hold in any store
(``services.staff_groups_sync``); the groups and their permissions are created
by ``stores/migrations/0002_store_roles.py``.  What a role's group lets a user
do holds only in the stores where they hold that role
(``scoping.store_ids_for(user, perm=...)``).
"""

from stores.models import StoreRole

ROLE_GROUPS = {
    StoreRole.MANAGER: "店长",
    StoreRole.CLERK: "店员",
    StoreRole.ASSOCIATE: "导购",
}
