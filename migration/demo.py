"""Demo: a file from an "old system" (GBK CSV, Chinese headers) waiting in the admin's imports.

``migration/demo_data/old_system_members.csv``: 40 members of a shop moving here, with points lots,
stored value, cards and unused coupons, and the mistakes real exports have (a negative amount, a
30 February, a phone twice, points already expired, a word where a number goes).  The demo uploads it
and runs its dry run, so the operator opens 会员导入, reads the report, accepts the errors and imports;
the same file can be uploaded again from the repository to try a second run (it posts nothing twice).
"""

from pathlib import Path

from django.contrib.auth import get_user_model

from migration import imports
from migration.models import ImportJob

SAMPLE = Path(__file__).resolve().parent / "demo_data" / "old_system_members.csv"


def seed_sample_import() -> ImportJob | None:
    """Upload the sample and dry-run it, once (None when it is there already)."""
    data = SAMPLE.read_bytes()
    if ImportJob.objects.filter(filename=SAMPLE.name).exists():
        return None
    operator, _created = get_user_model().objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"}
    )
    job = imports.import_upload(filename=SAMPLE.name, data=data, actor_id=operator.pk)
    imports.import_map(
        job_id=job.pk,
        mapping=job.mapping,
        match_rule="skip",
        total_policy="principal",
        actor_id=operator.pk,
        preset_name="旧系统会员表",  # offered again when the next file of that system comes in
    )
    return imports.import_dry_run(job_id=job.pk)
