"""Production settings come from the environment; the repository holds no secret.

Settings are loaded in a subprocess with a clean environment, so nothing from
the test run (DATABASE_URL of the PostgreSQL leg, a developer's .env) leaks in.
"""

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings

MANAGE = settings.BASE_DIR / "manage.py"
PRODUCTION = "config.settings.production"

# Every secret and connection string production reads, set to a recognisable value.
SENTINELS = {
    "DJANGO_SECRET_KEY": "sentinel-secret-key-Qm3x9v7ZkL2pW8rT5yN1bH4cJ6dF0gS_aE",
    "DATABASE_URL": "postgres://sentinel_user:sentinel-db-pw@db.sentinel.invalid:5432/sentinel_db",
    "REDIS_URL": "redis://:sentinel-redis-pw@redis.sentinel.invalid:6379/7",
    "WHATSAPP_APP_SECRET": "sentinel-app-secret-4f1c",
    "WHATSAPP_ACCESS_TOKEN": "sentinel-access-token-9b2e",
    "WHATSAPP_VERIFY_TOKEN": "sentinel-verify-token-7d3a",
}
# Where each variable must show up in the loaded settings.
USED_IN = {
    "DJANGO_SECRET_KEY": ["SECRET_KEY"],
    "DATABASE_URL": ["DATABASES"],
    "REDIS_URL": ["REDIS_URL", "CELERY_BROKER_URL", "CACHES"],
    "WHATSAPP_APP_SECRET": ["WHATSAPP_APP_SECRET"],
    "WHATSAPP_ACCESS_TOKEN": ["WHATSAPP_ACCESS_TOKEN"],
    "WHATSAPP_VERIFY_TOKEN": ["WHATSAPP_VERIFY_TOKEN"],
}
# Parts of a sentinel that must appear where it is used (a URL is split up).
EXPECTED_PARTS = {
    "DATABASE_URL": ["sentinel_db", "sentinel_user", "sentinel-db-pw", "db.sentinel"],
}


def _env(**overrides) -> dict:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": PRODUCTION,
        "DJANGO_ALLOWED_HOSTS": "portal.sentinel.invalid",
        **SENTINELS,
        **overrides,
    }
    return {k: v for k, v in env.items() if v is not None}


def _run(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _diffsettings(env) -> dict[str, str]:
    result = _run(str(MANAGE), "diffsettings", env=env)
    assert result.returncode == 0, result.stderr
    lines = {}
    for line in result.stdout.splitlines():
        name, sep, value = line.partition(" = ")
        if sep:
            lines[name] = value
    return lines


def test_production_uses_the_environment_s_secrets_and_urls():
    # given every variable set to a sentinel
    loaded = _diffsettings(_env())
    # then each one is what production uses, where it is used
    for variable, names in USED_IN.items():
        for name in names:
            for part in EXPECTED_PARTS.get(variable, [SENTINELS[variable]]):
                assert part in loaded[name], (variable, name, loaded.get(name))
    # Django's PostgreSQL backend, its health check tuned (config/postgresql/)
    assert "'ENGINE': 'config.postgresql'" in loaded["DATABASES"]
    assert "RedisCache" in loaded["CACHES"]


def test_production_passes_the_deployment_checks():
    result = _run(
        str(MANAGE), "check", "--deploy", "--fail-level", "WARNING", env=_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "variable",
    [
        pytest.param("DJANGO_SECRET_KEY", id="DJANGO_SECRET_KEY"),
        pytest.param("WHATSAPP_APP_SECRET", id="WHATSAPP_APP_SECRET"),
        pytest.param("WHATSAPP_VERIFY_TOKEN", id="WHATSAPP_VERIFY_TOKEN"),
        pytest.param("WHATSAPP_ACCESS_TOKEN", id="WHATSAPP_ACCESS_TOKEN"),
        pytest.param("DATABASE_URL", id="DATABASE_URL"),
        pytest.param("REDIS_URL", id="REDIS_URL"),
    ],
)
def test_production_refuses_to_start_without(variable):
    # given production without one of its secrets or URLs
    env = _env(**{variable: None})
    # when its settings load
    result = _run("-c", f"import {PRODUCTION}", env=env)
    # then it refuses, naming the variable, rather than use a default
    assert result.returncode != 0
    assert variable in result.stderr


# --- No secret in the repository -------------------------------------------------------

SECRET_PATTERNS = {
    "Meta access token": re.compile(rb"EAA[A-Za-z0-9]{20,}"),
    "private key": re.compile(rb"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
    "AWS access key id": re.compile(rb"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(rb"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(rb"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Stripe live key": re.compile(rb"\b[sr]k_live_[0-9A-Za-z]{16,}"),
}
EXCLUDED = ("tests/fixtures/", "docs/")


def _tracked_files() -> list[str]:
    result = subprocess.run(
        ["git", "ls-files", "-z"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        check=True,
    )
    return [name for name in result.stdout.decode().split("\0") if name]


def secrets_in(paths: list[str]) -> list[str]:
    found = []
    for name in paths:
        if name.startswith(EXCLUDED):
            continue
        path = settings.BASE_DIR / name
        if not path.is_file():
            continue  # deleted in the working tree
        content = path.read_bytes()
        for label, pattern in SECRET_PATTERNS.items():
            for match in pattern.finditer(content):
                line = content.count(b"\n", 0, match.start()) + 1
                found.append(f"{name}:{line}: {label}")
    return found


def test_no_secret_literal_is_tracked():
    files = _tracked_files()
    assert len(files) > 50
    assert secrets_in(files) == []


def test_the_secret_search_finds_secrets(tmp_path, settings):
    # given files holding each kind of secret (built here, so none is tracked)
    settings.BASE_DIR = tmp_path
    samples = {
        "token.py": b'TOKEN = "EAA' + b"B" * 30 + b'"',
        "key.pem": b"-----BEGIN RSA " + b"PRIVATE KEY-----\nMIIE...",
        "aws.env": b"AWS_ACCESS_KEY_ID=AKIA" + b"ABCDEFGHIJKLMNOP",
        "fixture.json": b'{"token": "EAA' + b"C" * 30 + b'"}',
    }
    (tmp_path / "tests" / "fixtures").mkdir(parents=True)
    for name, content in samples.items():
        target = tmp_path / ("tests/fixtures/" if name.endswith(".json") else "")
        (target / name).write_bytes(content)
    # then the tracked ones are found, and fixtures are left alone
    assert secrets_in(
        ["token.py", "key.pem", "aws.env", "tests/fixtures/fixture.json"]
    ) == [
        "token.py:1: Meta access token",
        "key.pem:1: private key",
        "aws.env:1: AWS access key id",
    ]
