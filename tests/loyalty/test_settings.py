import os
import subprocess
import sys

from django.conf import settings


def _manage(*args, env_overrides):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check_without_warnings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_overrides={
            "DJANGO_SETTINGS_MODULE": "loyalty.settings.production",
            "SECRET_KEY": "x" * 20 + "a-long-random-production-secret-key-0123456789",
            "ALLOWED_HOSTS": "loyalty.example.com",
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "REDIS_URL": os.environ["REDIS_URL"],
        },
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_database_url():
    env = {
        "DJANGO_SETTINGS_MODULE": "loyalty.settings.production",
        "SECRET_KEY": "s" * 50,
        "DATABASE_URL": "",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    result = _manage("check", env_overrides=env)

    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_services_own_their_transactions_and_sqlite_is_never_used():
    db = settings.DATABASES["default"]
    assert db["ATOMIC_REQUESTS"] is False
    assert db["ENGINE"] == "django.db.backends.postgresql"


def test_time_zone_defaults_to_shanghai():
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.CELERY_TIMEZONE == "Asia/Shanghai"


def test_the_image_and_the_package_carry_every_app_of_ours():
    """The Dockerfile copies, and pyproject packages, every project app in INSTALLED_APPS."""
    import tomllib
    from pathlib import Path

    from django.conf import settings

    root = Path(settings.BASE_DIR)
    ours = {name.split(".")[0] for name in settings.INSTALLED_APPS if (root / name.split(".")[0]).is_dir()}
    dockerfile = (root / "Dockerfile").read_text()
    packaged = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert ours >= {"loyalty", "members", "payments"}
    for app in ours:
        assert f"COPY {app} ./{app}\n" in dockerfile, app
        assert f"{app}*" in packaged["include"], app


def test_behind_a_transaction_pooler_server_side_cursors_are_off_and_an_unknown_pooler_is_refused():
    env = {
        "DJANGO_SETTINGS_MODULE": "loyalty.settings.production",
        "SECRET_KEY": "s" * 50,
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
    }
    show = "from django.conf import settings; print(settings.DATABASES['default']['DISABLE_SERVER_SIDE_CURSORS'])"

    pooled = _manage("shell", "-c", show, env_overrides={**env, "DB_POOLER": "transaction"})
    direct = _manage("shell", "-c", show, env_overrides={**env, "DB_POOLER": ""})
    unknown = _manage("check", env_overrides={**env, "DB_POOLER": "statement"})

    shown = (pooled.stdout.split()[-1:], direct.stdout.split()[-1:])  # after shell's own greeting
    assert shown == (["True"], ["False"]), pooled.stderr + direct.stderr
    assert unknown.returncode != 0 and "DB_POOLER" in unknown.stderr
