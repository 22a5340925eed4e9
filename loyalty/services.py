"""Writes for the platform models: API clients and housekeeping."""

import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from loyalty import crypto
from loyalty.models import ApiClient, ApiNonce, IdempotencyRecord, JobRun, JobRunStatus


def api_client_issue_secret(*, client: ApiClient) -> str:
    """Give a client a new secret (and a key ID if it has none) and save it.

    Returns the plain secret, which is shown once and stored only encrypted.
    """
    secret = secrets.token_urlsafe(32)
    client.key_id = client.key_id or f"ak_{secrets.token_hex(8)}"
    client.secret_encrypted = crypto.encrypt(secret)
    client.save()
    return secret


@transaction.atomic
def api_client_create(*, name: str) -> tuple[ApiClient, str]:
    client = ApiClient(name=name)
    return client, api_client_issue_secret(client=client)


def platform_purge_expired() -> dict[str, int]:
    """Delete nonces outside the replay window, idempotency records past retention and old job runs.

    Safe to run any number of times; each DELETE is one set-based statement.
    """
    now = timezone.now()
    nonce_cutoff = now - 2 * timezone.timedelta(seconds=settings.SERVER_SIGNATURE_WINDOW_SECONDS)
    nonces, _ = ApiNonce.objects.filter(seen_at__lt=nonce_cutoff).delete()
    records, _ = IdempotencyRecord.objects.filter(
        created_at__lt=now - settings.IDEMPOTENCY_RETENTION
    ).delete()
    # A job run matters while its period can fire again; finished ones are kept a while for the admin.
    job_runs, _ = JobRun.objects.filter(
        started_at__lt=now - settings.JOB_RUN_RETENTION, status=JobRunStatus.DONE
    ).delete()
    return {"nonces": nonces, "idempotency_records": records, "job_runs": job_runs}
