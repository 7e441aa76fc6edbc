"""Production settings that refuse or harden at start (issue 7 items 2 and 16): each is read by a
real process started with the environment under test, as a deployment would start it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ROOT

JWKS = "https://idp.example/.well-known/jwks.json"
ISSUER = "https://idp.example/"
AUDIENCE = "https://regatta.example"
OIDC_REFUSAL = "OIDC_ISSUER and OIDC_AUDIENCE must be set too"
# Environment variables under test, removed from the suite's own environment first.
UNDER_TEST = (
    "OIDC_JWKS_URL",
    "OIDC_ISSUER",
    "OIDC_AUDIENCE",
    "REGATTA_HTTPS",
    "HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
    "DJANGO_SECRET_KEY",
)


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNDER_TEST}
    env.update(REGATTA_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", **extra)
    return env


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _settings(env: dict[str, str], *names: str) -> dict:
    """The named Django settings as a fresh process reads them."""
    code = (
        "import json, sys; from django.conf import settings; "
        "print(json.dumps({n: getattr(settings, n) for n in sys.argv[1:]}))"
    )
    done = _run([sys.executable, "-c", code, *names], env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- item 2: OIDC needs an issuer and an audience -------------------------------------------------


@pytest.mark.parametrize(
    "partial",
    [
        {"OIDC_JWKS_URL": JWKS},
        {"OIDC_JWKS_URL": JWKS, "OIDC_ISSUER": ISSUER},
        {"OIDC_JWKS_URL": JWKS, "OIDC_AUDIENCE": AUDIENCE},
    ],
    ids=["neither", "no-audience", "no-issuer"],
)
def test_it_refuses_to_start_with_a_jwks_url_but_no_issuer_or_audience(tmp_path, partial):
    done = _run([sys.executable, "manage.py", "check"], _env(tmp_path, **partial))
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and OIDC_REFUSAL in done.stderr


def test_it_starts_with_the_whole_oidc_configuration(tmp_path):
    full = {"OIDC_JWKS_URL": JWKS, "OIDC_ISSUER": ISSUER, "OIDC_AUDIENCE": AUDIENCE}
    done = _run([sys.executable, "manage.py", "check"], _env(tmp_path, **full))
    assert done.returncode == 0, done.stderr[-3000:]


# --- item 16: HTTPS settings ----------------------------------------------------------------------

HTTPS_NAMES = (
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
)


def test_it_marks_cookies_secure_and_sends_hsts_behind_https(tmp_path):
    env = _env(tmp_path, REGATTA_HTTPS="true", SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    got = _settings(env, *HTTPS_NAMES)
    assert got["SESSION_COOKIE_SECURE"] is True and got["CSRF_COOKIE_SECURE"] is True
    assert got["SECURE_HSTS_SECONDS"] >= 180 * 86400
    assert got["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    shorter = _settings(_env(tmp_path, REGATTA_HTTPS="true", HSTS_SECONDS="600"), *HTTPS_NAMES)
    assert shorter["SECURE_HSTS_SECONDS"] == 600


def test_it_refuses_to_start_with_a_proxy_ssl_header_that_is_no_header_name(tmp_path):
    env = _env(tmp_path, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto: https")
    done = _run([sys.executable, "manage.py", "check"], env)
    assert done.returncode != 0 and "SECURE_PROXY_SSL_HEADER must be a header name" in done.stderr


def test_without_https_nothing_changes_and_no_proxy_header_is_trusted(tmp_path):
    got = _settings(_env(tmp_path), *HTTPS_NAMES)
    assert got == {
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
        # A header a client can send itself is trusted only when the operator says so.
        "SECURE_PROXY_SSL_HEADER": None,
    }


# --- item 16: the generated secret key -----------------------------------------------------------

# Runs in a fresh process with umask 0 (the worst a service manager may give): an audit hook
# looks at the data directory at every audited operation (opens, chmods, links, …) and records
# any moment a file holding bytes there was readable or writable by others.
WATCH_SECRET_KEY = """
import json, os, stat, sys
os.umask(0)
data = sys.argv[1]
exposed, busy = [], False

def hook(event, args):
    global busy
    if busy or not os.path.isdir(data):
        return
    busy = True
    try:
        for entry in os.scandir(data):
            st = os.stat(entry.path, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and st.st_size and st.st_mode & 0o077:
                exposed.append([event, entry.name, oct(st.st_mode & 0o777)])
    finally:
        busy = False

sys.addaudithook(hook)
from django.conf import settings
key = settings.SECRET_KEY
print(json.dumps({"exposed": exposed, "key": key, "files": sorted(os.listdir(data))}))
"""


def test_it_creates_the_secret_key_file_private_before_writing_the_key(tmp_path):
    data = tmp_path / "var"
    env = _env(data)
    first = _run([sys.executable, "-c", WATCH_SECRET_KEY, str(data)], env)
    assert first.returncode == 0, first.stderr[-3000:]
    seen = json.loads(first.stdout.strip().splitlines()[-1])
    assert seen["exposed"] == [], "the key was readable by others for a moment"
    assert seen["files"] == ["secret_key"]  # no staging file left behind
    path = data / "secret_key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().strip() == seen["key"] and len(seen["key"]) >= 50
    # A second start reads the same key rather than making another.
    again = json.loads(_run([sys.executable, "-c", WATCH_SECRET_KEY, str(data)], env).stdout)
    assert again["key"] == seen["key"]


def test_it_does_not_write_the_secret_key_through_a_planted_symlink(tmp_path):
    data, elsewhere = tmp_path / "var", tmp_path / "world-readable"
    data.mkdir()
    (data / "secret_key").symlink_to(elsewhere)
    done = _run([sys.executable, "-c", WATCH_SECRET_KEY, str(data)], _env(data))
    assert done.returncode != 0
    assert not elsewhere.exists()


# --- item 16 (and 5): what deploy/ ships ----------------------------------------------------------

DEPLOY = ROOT / "deploy"
SHIPPED = ("docker-compose.yml", "kubernetes/regatta.yaml", "Dockerfile", "Procfile")


def _code_lines(name: str) -> list[str]:
    lines = (DEPLOY / name).read_text().splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _kubernetes(kind: str, name: str) -> str:
    """One object of deploy/kubernetes/regatta.yaml, as text."""
    docs = (DEPLOY / "kubernetes" / "regatta.yaml").read_text().split("\n---\n")
    found = [d for d in docs if f"kind: {kind}\n" in d and f"metadata: {{name: {name}}}" in d]
    assert len(found) == 1, (kind, name)
    return found[0]


def test_no_deploy_file_answers_every_host_name():
    # Hyperlinks are built from the Host header: "*" lets a caller choose where they point.
    for name in SHIPPED:
        for line in _code_lines(name):
            if "ALLOWED_HOSTS" in line:
                assert "*" not in line, (name, line)
    compose = "\n".join(_code_lines("docker-compose.yml"))
    assert "ALLOWED_HOSTS: ${ALLOWED_HOSTS:?" in compose  # compose refuses to start without it
    web = _kubernetes("Deployment", "regatta-web")
    assert "valueFrom: {secretKeyRef: {name: regatta, key: ALLOWED_HOSTS}}" in web


def test_kubernetes_web_pods_share_one_secret_key_from_the_secret():
    web = _kubernetes("Deployment", "regatta-web")
    # Required (no `optional`): a Secret without the key stops the pod instead of letting each
    # pod generate a key of its own.
    assert (
        "- name: DJANGO_SECRET_KEY\n"
        "              valueFrom: {secretKeyRef: {name: regatta, key: DJANGO_SECRET_KEY}}"
    ) in web
    assert "optional" not in web


def _flower_command() -> list[str]:
    flower = _kubernetes("Deployment", "regatta-flower")
    line = next(ln for ln in flower.splitlines() if ln.strip().startswith("command:"))
    # A YAML flow sequence of double-quoted strings is JSON.
    return json.loads(line.split("command:", 1)[1])


def test_kubernetes_flower_refuses_to_start_without_basic_auth(tmp_path):
    command = _flower_command()
    assert command[:2] == ["sh", "-c"]
    assert "valueFrom: {secretKeyRef: {name: regatta, key: FLOWER_BASIC_AUTH}}" in _kubernetes(
        "Deployment", "regatta-flower"
    )
    # The container's own command, run by a real shell with a `celery` that reports its argv.
    stub = tmp_path / "bin" / "celery"
    stub.parent.mkdir()
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    stub.chmod(0o755)
    path = f"{stub.parent}:{os.environ['PATH']}"
    for unset in ({}, {"FLOWER_BASIC_AUTH": ""}):
        done = _run(command, {"PATH": path, **unset})
        assert done.returncode != 0 and done.stdout == ""
        assert "FLOWER_BASIC_AUTH" in done.stderr
    done = _run(command, {"PATH": path, "FLOWER_BASIC_AUTH": "ops:s3cret pass"})
    assert done.returncode == 0, done.stderr
    assert "--basic-auth=ops:s3cret pass" in done.stdout.splitlines()
    assert "flower" in done.stdout.splitlines()


def test_no_deploy_file_prints_the_first_admin_token_to_a_log():
    for name in SHIPPED:
        for line in _code_lines(name):
            assert "bootstrap_admin --print" not in line, (name, line)
    # The Kubernetes Job's output is a pod log: it migrates only.
    assert "bootstrap_admin" not in "\n".join(
        ln for ln in _kubernetes("Job", "regatta-migrate").splitlines() if "#" not in ln
    )
    # Compose keeps the file the migrate container writes in a volume.
    compose = "\n".join(_code_lines("docker-compose.yml"))
    assert "regatta-data:/var/lib/regatta" in compose
