"""Account and key services, and first-start bootstrap, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tokenward.auth import (
    KeyAuthenticator,
    bootstrap,
    create_account,
    create_key,
    get_account,
    list_accounts,
    list_keys,
    revoke_key,
)
from tokenward.auth.keys import display_prefix, hash_key
from tokenward.clock import FakeClock
from tokenward.config import load_settings
from tokenward.config.schema import DatabaseSettings, Settings
from tokenward.errors import InvalidRequest, NotFound
from tokenward.storage import Store
from tokenward.storage.repos import keys as keys_repo


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_accounts(store: Store, clock: FakeClock) -> None:
    created = create_account(store, "acme", "prepaid", clock=clock)
    assert created.id.startswith("acc_") and created.billing_mode == "prepaid"
    assert created.created_at == clock.now()
    create_account(store, "beta", clock=clock)
    assert [a.name for a in list_accounts(store)] == ["acme", "beta"]
    assert get_account(store, "acme") == created
    with pytest.raises(InvalidRequest, match="already exists"):
        create_account(store, "acme", clock=clock)
    with pytest.raises(NotFound, match="unknown account 'nope'"):
        get_account(store, "nope")
    for bad in ("", "has space", "-dash", "x" * 65):
        with pytest.raises(InvalidRequest, match="invalid account name"):
            create_account(store, bad, clock=clock)
    with pytest.raises(InvalidRequest, match="billing"):
        create_account(store, "gamma", "free", clock=clock)


def test_keys_are_stored_hashed_and_shown_by_prefix(store: Store, clock: FakeClock) -> None:
    create_account(store, "acme", clock=clock)
    info, plaintext = create_key(store, "acme", "ci", clock=clock)
    assert plaintext.startswith("tw-") and len(plaintext) == 46
    assert info.prefix == plaintext[:11] and info.id.startswith("key_")
    assert plaintext not in repr(info) and "hash" not in repr(info)
    assert not any("hash" in f.name for f in dataclasses.fields(info))
    with store.transaction() as conn:
        stored = keys_repo.find_by_hash(conn, hash_key(plaintext))
    assert stored is not None and stored.id == info.id
    assert info.as_dict(clock.now())["status"] == "active"


def test_key_creation_rejects_bad_input(store: Store, clock: FakeClock) -> None:
    create_account(store, "acme", clock=clock)
    with pytest.raises(NotFound, match="unknown account"):
        create_key(store, "nope", clock=clock)
    with pytest.raises(InvalidRequest, match="future"):
        create_key(store, "acme", expires_at=clock.now() - timedelta(seconds=1), clock=clock)
    with pytest.raises(InvalidRequest, match="time zone"):
        create_key(store, "acme", expires_at=datetime(2030, 1, 1), clock=clock)
    with pytest.raises(InvalidRequest, match="role"):
        create_key(store, "acme", role="root", clock=clock)
    with pytest.raises(InvalidRequest, match="name"):
        create_key(store, "acme", " ", clock=clock)


def test_list_and_revoke(store: Store, clock: FakeClock) -> None:
    create_account(store, "acme", clock=clock)
    create_account(store, "beta", clock=clock)
    a1, _ = create_key(store, "acme", "one", clock=clock)
    clock.advance(1)
    a2, a2_plain = create_key(store, "acme", "two", clock=clock)
    b1, b1_plain = create_key(store, "beta", "three", clock=clock)
    assert [k.id for k in list_keys(store)] == [a1.id, a2.id, b1.id]
    assert [k.id for k in list_keys(store, "beta")] == [b1.id]
    with pytest.raises(NotFound):
        list_keys(store, "nope")

    clock.advance(5)
    by_id = revoke_key(store, a1.id, clock=clock)
    assert by_id.revoked_at == clock.now() and by_id.status(clock.now()) == "revoked"
    assert revoke_key(store, display_prefix(a2_plain), clock=clock).id == a2.id
    assert revoke_key(store, b1_plain, clock=clock).id == b1.id  # the whole key works too
    clock.advance(5)
    again = revoke_key(store, a1.id, clock=clock)  # idempotent: the first time stays
    assert again.revoked_at == by_id.revoked_at
    with pytest.raises(NotFound):
        revoke_key(store, "key_doesnotexist", clock=clock)
    with pytest.raises(NotFound):
        revoke_key(store, "tw-AAAAAAAA", clock=clock)
    with pytest.raises(InvalidRequest):
        revoke_key(store, "sk-whatever", clock=clock)


def test_expired_status(store: Store, clock: FakeClock) -> None:
    create_account(store, "acme", clock=clock)
    info, _ = create_key(store, "acme", expires_at=clock.now() + timedelta(hours=1), clock=clock)
    assert info.status(clock.now()) == "active"
    assert info.status(clock.now() + timedelta(hours=1)) == "expired"


def _settings(tmp_path: Path, url: str, **env: str) -> Settings:
    return load_settings(
        None,
        env={"TOKENWARD_HOME": str(tmp_path), "TOKENWARD_DATABASE_URL": url, **env},
    )


@pytest.fixture
def no_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./tokenward.toml can be picked up


@pytest.mark.anyio
@pytest.mark.usefixtures("no_config_file")
async def test_bootstrap_creates_admin_and_demo_keys_once(
    store: Store, migrated_database_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    settings = _settings(tmp_path, migrated_database_url)
    first = bootstrap(store, settings, clock)
    assert first.admin_key and first.demo_key
    auth = KeyAuthenticator(store, clock)
    admin = await auth.authenticate_admin(first.admin_key)
    assert admin.account_name == "admin"
    demo = await auth.authenticate(first.demo_key)
    assert (demo.account_name, demo.role) == ("demo", "user")
    assert bootstrap(store, settings, clock) == type(first)(None, None)
    revoke_key(store, admin.key_id, clock=clock)
    assert bootstrap(store, settings, clock).admin_key is None  # never a second admin key


@pytest.mark.usefixtures("no_config_file")
def test_bootstrap_does_nothing_with_a_configured_admin_key(
    store: Store, migrated_database_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    settings = _settings(
        tmp_path, migrated_database_url, TOKENWARD_ADMIN_KEY="tw-configured-key-123"
    )
    assert bootstrap(store, settings, clock) == type(bootstrap(store, settings, clock))()
    assert list_accounts(store) == []


@pytest.mark.usefixtures("no_config_file")
def test_concurrent_bootstraps_create_one_admin_key(
    migrated_database_url: str, store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    settings = _settings(tmp_path, migrated_database_url)
    stores = [Store.connect(DatabaseSettings(url=migrated_database_url)) for _ in range(4)]
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda s: bootstrap(s, settings, clock), stores))
    finally:
        for s in stores:
            s.close()
    assert sum(r.admin_key is not None for r in results) == 1
    assert [k.role for k in list_keys(store)].count("admin") == 1
    assert {a.name for a in list_accounts(store)} == {"admin", "demo"}
    assert all(k.created_at.tzinfo is UTC for k in list_keys(store))
