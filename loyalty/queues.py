"""Which Celery queue each task goes to: value work never waits behind bulk work.

One queue for everything let a 100,000-member bulk issue (or the night's
reports, RFM and reminders) hold every worker process while a refund or a
member's subscription message waited behind it.  Two queues, each with
workers of its own (``docker-compose.yml``: ``worker-value`` and
``worker-bulk``):

* ``value``: work that moves money or that a member is waiting for — refund
  submission and its retries, closing or crediting unpaid payments, orders
  never paid (their coupons, points and stored value go back), coupon locks
  of abandoned orders, subscription messages and their retries, a card a
  member just qualified for.  Each task is short (one row, or one bounded
  batch).
* ``bulk``: work over many members or rows at once — bulk coupon issues,
  expiry jobs, reminders, member-day pushes, monthly and birthday gifts,
  tier recalculation, RFM and report refreshes, the mall's auto-complete.
* ``celery`` (Celery's default queue): housekeeping only —
  ``loyalty.purge_expired`` — and Celery's own tasks
  (``celery.backend_cleanup`` …).  The bulk workers consume it too.

Every task of the project is named here on purpose
(``tests/loyalty/test_queues.py`` fails for a task that is not), so a new
task cannot silently land on a queue nobody chose.  The table is a plain
dict, so settings can import it before Django is set up; the routing itself
is Celery's (``CELERY_TASK_ROUTES``).
"""

VALUE = "value"
BULK = "bulk"
DEFAULT = "celery"

QUEUE_OF_TASK: dict[str, str] = {
    # --- value: money and members waiting ---------------------------------------------------
    "payments.submit_refund": VALUE,
    "payments.retry_refunds": VALUE,
    "payments.close_stale": VALUE,
    "orders.cancel_expired": VALUE,
    "coupons.release_stale_locks": VALUE,
    "notifications.send_wechat": VALUE,
    "notifications.send_due_wechat": VALUE,
    "members.grant_conditional_cards": VALUE,
    "growth.fail_expired_groups": VALUE,
    "growth.refund_unfulfilled": VALUE,
    # --- bulk: many members or rows at once ----------------------------------------------------
    "coupons.run_bulk_issue": BULK,
    "coupons.resume_bulk_issues": BULK,
    "coupons.expire_due": BULK,
    "coupons.remind_expiring": BULK,
    "points.expire_due": BULK,
    "points.remind_expiring": BULK,
    "points.archive": BULK,
    "members.recalculate_tiers": BULK,
    "members.remind_expiring_cards": BULK,
    "members.catch_up_conditional_cards": BULK,
    "members.issue_monthly_card_coupons": BULK,
    "members.run_member_days": BULK,
    "members.give_birthday_gifts": BULK,
    "mall.auto_complete": BULK,
    "members.prune_member_codes": BULK,
    "growth.expire_bargains": BULK,
    "analytics.run_rfm": BULK,
    "analytics.rfm_nightly": BULK,
    "analytics.refresh_reports": BULK,
    "migration.commit_import": BULK,
    "migration.dry_run_import": BULK,
    "migration.resume_imports": BULK,
    "migration.run_export": BULK,
    "migration.resume_exports": BULK,
    "migration.prune_exports": BULK,
    # --- the default queue: housekeeping --------------------------------------------------------
    "loyalty.purge_expired": DEFAULT,
}


def task_routes() -> dict[str, dict[str, str]]:
    """``CELERY_TASK_ROUTES``: each task by its name to its queue."""
    return {task: {"queue": queue} for task, queue in QUEUE_OF_TASK.items()}
