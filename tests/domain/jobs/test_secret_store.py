"""domain/jobs/secret_store.py: Fernet encryption at rest, with a key from SCALE_SECRETS_KEY or
one generated into the data directory (mode 0600)."""

from __future__ import annotations

import stat

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from domain.jobs.models import StoredSecret
from domain.jobs.secret_store import KEY_FILE, secret_values_merge, secret_values_read

pytestmark = pytest.mark.django_db


@pytest.fixture
def data_dir(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("SCALE_SECRETS_KEY", raising=False)
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_it_generates_a_private_key_file_when_no_key_is_set(data_dir):
    secret_values_merge(key="k", values={"DB_PASS": "hunter2"})
    key_file = data_dir / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(key_file.read_text().strip().encode())  # a valid Fernet key
    assert secret_values_read(key="k") == {"DB_PASS": "hunter2"}
    assert "hunter2" not in StoredSecret.objects.get(key="k").ciphertext


def test_it_uses_the_key_from_the_environment(data_dir, monkeypatch):
    key = Fernet.generate_key()
    monkeypatch.setenv("SCALE_SECRETS_KEY", key.decode())
    secret_values_merge(key="k", values={"A": "b"})
    token = StoredSecret.objects.get(key="k").ciphertext.encode()
    assert Fernet(key).decrypt(token) == b'{"A": "b"}'
    assert not (data_dir / KEY_FILE).exists()


def test_it_reads_with_an_old_key_after_a_rotation(data_dir, monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("SCALE_SECRETS_KEY", old)
    secret_values_merge(key="k", values={"A": "b"})
    monkeypatch.setenv("SCALE_SECRETS_KEY", f"{new},{old}")
    assert secret_values_read(key="k") == {"A": "b"}
    secret_values_merge(key="k", values={"C": "d"})
    token = StoredSecret.objects.get(key="k").ciphertext.encode()
    assert Fernet(new.encode()).decrypt(token)  # re-encrypted with the first key


def test_it_refuses_a_key_that_is_no_fernet_key_without_quoting_it(data_dir, monkeypatch):
    monkeypatch.setenv("SCALE_SECRETS_KEY", "not-a-key-at-all")
    with pytest.raises(ImproperlyConfigured) as refused:
        secret_values_merge(key="k", values={"A": "b"})
    assert "not-a-key-at-all" not in str(refused.value)


def test_it_merges_values_under_one_key(data_dir):
    secret_values_merge(key="k", values={"A": "1", "B": "2"})
    secret_values_merge(key="k", values={"B": "3"})
    assert secret_values_read(key="k") == {"A": "1", "B": "3"}
    assert secret_values_read(key="other") == {}
