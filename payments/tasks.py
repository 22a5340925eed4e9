from celery import shared_task

from loyalty.jobs import once_per_period
from payments import services


@shared_task(name="payments.close_stale", time_limit=600, soft_time_limit=540)
@once_per_period
def close_stale() -> int:
    return services.payments_close_stale()


@shared_task(
    name="payments.submit_refund",
    time_limit=60,
    soft_time_limit=50,
    autoretry_for=(Exception,),
    retry_backoff=30,
    max_retries=10,
)
def submit_refund(refund_id: int) -> str:
    refund = services.payment_refund_submit(refund_id=refund_id)
    if refund.status == "pending":  # WeChat unreachable: retry with backoff
        raise RuntimeError(f"refund {refund_id} not accepted yet: {refund.last_error}")
    return refund.status


@shared_task(name="payments.retry_refunds", time_limit=600, soft_time_limit=540)
@once_per_period
def retry_refunds() -> int:
    return services.payment_refunds_retry()
