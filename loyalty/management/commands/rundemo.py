"""One command for a new user: migrate, demo data, admin login, then web, beat and a Celery
worker per queue (value, bulk: loyalty/queues.py).

Ctrl-C stops the four processes (honcho forwards it) and then the embedded
PostgreSQL and Redis, unless another process still uses them (loyalty/embedded.py).
"""

import os
import secrets
import subprocess
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from loyalty import embedded
from stores import demo as stores_demo
from stores.models import Staff
from stores.services import staff_account_create, staff_groups_sync


class Command(BaseCommand):
    help = "Run the whole system locally with demo data (web, a Celery worker per queue, Celery beat)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--no-serve", action="store_true", help="Prepare everything, start nothing.")

    def handle(self, *args, port, host, no_serve, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo", stdout=self.stdout)
        password = self._admin_password()
        self.role_users(password)
        self.store_users(password)
        base = f"http://{host}:{port}"
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Back office:  {base}/admin/   user: admin   password: {password}\n"
                f"                (the same password for the roles: yunying 运营, caiwu 财务, kefu 客服;\n"
                f"                 and for 西湖店's staff: dianzhang 店长, dianyuan 店员, daogou 导购)\n"
                f"  API docs:     {base}/api/docs/\n"
                f"  Health:       {base}/api/v1/health\n"
                f'  Dev login:    POST {base}/api/v1/auth/dev-login {{"code": "alice"}}\n'
            )
        )
        if no_serve:
            return
        self.serve(
            settings.BASE_DIR / self.PROCFILE,
            {"DJANGO_SETTINGS_MODULE": "loyalty.settings.local", **self.process_env(host, port)},
        )

    PROCFILE = "Procfile.dev"

    def process_env(self, host: str, port: int) -> dict[str, str]:
        """What the Procfile's commands read from the environment."""
        return {"LOYALTY_BIND": f"{host}:{port}"}

    def serve(self, procfile, extra_env: dict[str, str]) -> None:
        """Run the Procfile's processes (honcho) until Ctrl-C, then release the embedded servers."""
        env = {**os.environ, **extra_env}
        bin_dir = os.path.dirname(sys.executable)
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        honcho = subprocess.Popen(
            [os.path.join(bin_dir, "honcho"), "-f", str(procfile), "-d", str(settings.BASE_DIR), "start"],
            env=env,
        )
        try:
            honcho.wait()
        except KeyboardInterrupt:
            honcho.wait()  # honcho got the same SIGINT and is stopping its processes
        finally:
            stopped = embedded.release_services()
            self.stdout.write(
                f"Stopped the processes of {os.path.basename(procfile)}"
                + (f" and the embedded servers ({', '.join(stopped)})." if stopped else ".")
            )

    ROLE_USERS = {"yunying": "运营", "caiwu": "财务", "kefu": "客服"}

    def role_users(self, password: str) -> None:
        """One back-office user per role (groups from loyalty/migrations/0003), to try what each may do."""
        from django.contrib.auth.models import Group

        for username, group in self.ROLE_USERS.items():
            user, created = get_user_model().objects.get_or_create(
                username=username, defaults={"is_staff": True}
            )
            if created or not user.check_password(password):
                user.set_password(password)
                user.save()
            user.groups.add(Group.objects.get(name=group))

    def store_users(self, password: str) -> None:
        """The demo store's staff sign in (stores/demo.py): 店长, 店员 and 导购 of 西湖店, scoped to it."""
        stores_demo.seed_stores()
        for username, code in stores_demo.LOGINS.items():
            staff = Staff.objects.get(code=code)
            if staff.user_id is None:
                staff_account_create(staff_id=staff.pk, username=username, password=password)
                continue
            if not staff.user.check_password(password):
                staff.user.set_password(password)
                staff.user.save()
            staff_groups_sync(staff_id=staff.pk)

    def _admin_password(self) -> str:
        """The demo admin's password, kept in .data so every run prints the same login."""
        path = settings.BASE_DIR / ".data" / "admin-password"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(12))
            path.chmod(0o600)
        password = path.read_text().strip()
        user, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"}
        )
        if not user.check_password(password):
            user.set_password(password)
            user.save()
        return password
