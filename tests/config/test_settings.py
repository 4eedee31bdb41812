"""Settings are driven by the environment; production refuses to start without its secrets."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import celery as celery_config
from config.settings import env_bool, env_decimal, env_int

ROOT = Path(__file__).resolve().parents[2]
PROD_SECRETS = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "x9!kQ2#vLr7@pZ4$wN8^tB1&mH5*cJ3(eY6)gU0-aS9+dF2=hK7",
    "DJANGO_ALLOWED_HOSTS": "portal.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/supplyline",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    "SUPPLYLINE_BASE_URL": "https://portal.example.com",
}


def _settings_in_subprocess(env: dict[str, str], expr: str) -> subprocess.CompletedProcess[str]:
    """Load config.settings in a fresh interpreter with exactly these variables set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    code = f"import config.settings as s; print({expr})"
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env={**clean, **env}, cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("TRUE", True), ("off", False), ("0", False)])
def test_env_bool_reads_common_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("SL_TEST_FLAG", raw)
    assert env_bool("SL_TEST_FLAG", default=not expected) is expected


def test_env_bool_rejects_a_malformed_value(monkeypatch):
    monkeypatch.setenv("SL_TEST_FLAG", "perhaps")
    with pytest.raises(ImproperlyConfigured, match="SL_TEST_FLAG must be true or false"):
        env_bool("SL_TEST_FLAG", default=False)


def test_env_int_and_decimal_reject_malformed_values(monkeypatch):
    monkeypatch.setenv("SL_TEST_INT", "ten")
    monkeypatch.setenv("SL_TEST_DEC", "2%")
    with pytest.raises(ImproperlyConfigured, match="SL_TEST_INT must be a whole number"):
        env_int("SL_TEST_INT", 1)
    with pytest.raises(ImproperlyConfigured, match="SL_TEST_DEC must be a number"):
        env_decimal("SL_TEST_DEC", "1")


def test_with_nothing_set_it_runs_on_sqlite_and_needs_no_server():
    result = _settings_in_subprocess(
        {}, "s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'], s.CELERY_BROKER_URL"
    )
    assert result.returncode == 0, result.stderr
    assert "sqlite3" in result.stdout
    assert "LocMemCache" in result.stdout
    assert "filesystem://" in result.stdout


def test_database_and_redis_urls_switch_to_the_real_services():
    result = _settings_in_subprocess(
        {"DATABASE_URL": "postgres://u@db.internal:5432/sl", "REDIS_URL": "redis://cache.internal:6379/2"},
        "s.DATABASES['default']['ENGINE'], s.DATABASES['default']['HOST'],"
        " s.CACHES['default']['BACKEND'], s.CELERY_BROKER_URL",
    )
    assert result.returncode == 0, result.stderr
    assert "postgresql" in result.stdout
    assert "db.internal" in result.stdout
    assert "RedisCache" in result.stdout
    assert "redis://cache.internal:6379/2" in result.stdout


@pytest.mark.parametrize(
    "missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "SUPPLYLINE_BASE_URL"]
)
def test_production_refuses_to_start_without_its_secrets(missing):
    env = {k: v for k, v in PROD_SECRETS.items() if k != missing}
    result = _settings_in_subprocess(env, "s.DEBUG")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


def test_production_refuses_debug():
    result = _settings_in_subprocess({**PROD_SECRETS, "DJANGO_DEBUG": "true"}, "s.DEBUG")
    assert result.returncode != 0
    assert "DJANGO_DEBUG cannot be on in production" in result.stderr


def test_an_unknown_environment_name_is_refused():
    result = _settings_in_subprocess({"DJANGO_ENV": "staging"}, "s.DEBUG")
    assert result.returncode != 0
    assert "DJANGO_ENV must be development or production" in result.stderr


def test_production_passes_the_deployment_checklist():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={**clean, **PROD_SECRETS},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_task_time_limits_stay_below_the_broker_visibility_timeout():
    conf = celery_config.app.conf
    assert conf.task_time_limit < celery_config.VISIBILITY_TIMEOUT_S
    assert conf.task_soft_time_limit < conf.task_time_limit


def test_celery_acknowledges_late_and_redelivers_work_of_a_lost_worker():
    conf = celery_config.app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1


def test_queues_are_named_for_their_priority_and_routed():
    conf = celery_config.app.conf
    assert [q.name for q in conf.task_queues] == ["critical", "default", "bulk"]
    assert conf.task_default_queue == "default"
    router = celery_config.app.amqp.router
    assert router.route({}, "planning_sync.tasks.deliver")["queue"].name == "critical"
    assert router.route({}, "purchasing.tasks.import_documents")["queue"].name == "bulk"
    assert router.route({}, "planning_sync.tasks.import_purchase_orders")["queue"].name == "bulk"
    assert router.route({}, "suppliers.tasks.send_email")["queue"].name == "default"


def test_every_beat_task_is_a_registered_task():
    celery_config.app.loader.import_default_modules()
    for entry in celery_config.app.conf.beat_schedule.values():
        assert entry["task"] in celery_config.app.tasks
