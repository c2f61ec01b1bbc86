"""KeyAuthenticator on SQLite and PostgreSQL: reasons for refusal, cache, admin keys."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from tokenward.auth import KeyAuthenticator, Principal, create_account, create_key, revoke_key
from tokenward.auth.keys import display_prefix, hash_key
from tokenward.auth.service import new_id
from tokenward.clock import FakeClock, SystemClock
from tokenward.config.schema import DatabaseSettings
from tokenward.errors import AuthenticationFailed, PermissionDenied
from tokenward.storage import Store
from tokenward.storage.repos import keys as keys_repo

pytestmark = pytest.mark.anyio
ADMIN = "tw-admin-from-settings-0123456789"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def user_key(store: Store, clock: FakeClock) -> str:
    create_account(store, "acme", clock=clock)
    _, plaintext = create_key(store, "acme", "ci", clock=clock)
    return plaintext


async def test_a_valid_key_gives_its_principal(store: Store, clock: FakeClock) -> None:
    account = create_account(store, "acme", clock=clock)
    info, plaintext = create_key(store, "acme", "ci", clock=clock)
    auth = KeyAuthenticator(store, clock)
    assert await auth.authenticate(plaintext) == Principal(
        account_id=account.id,
        account_name="acme",
        key_id=info.id,
        key_name="ci",
        role="user",
        billing_mode="postpaid",  # read with the key, for the charge stage
    )
    assert await auth.authenticate(f"  {plaintext}\n") == await auth.authenticate(plaintext)


@pytest.mark.parametrize("raw", [None, "", "   "])
async def test_a_missing_key_says_so(store: Store, clock: FakeClock, raw: str | None) -> None:
    with pytest.raises(AuthenticationFailed, match="missing API key"):
        await KeyAuthenticator(store, clock).authenticate(raw)


@pytest.mark.parametrize("raw", ["sk-not-ours", "tw-", "tw-" + "x" * 43, "tw-" + "é" * 43])
async def test_an_unknown_key_is_invalid(store: Store, clock: FakeClock, raw: str) -> None:
    with pytest.raises(AuthenticationFailed, match=r"^invalid API key$"):
        await KeyAuthenticator(store, clock).authenticate(raw)


async def test_a_revoked_key_says_so(store: Store, clock: FakeClock, user_key: str) -> None:
    revoke_key(store, display_prefix(user_key), clock=clock)
    with pytest.raises(AuthenticationFailed, match="revoked") as info:
        await KeyAuthenticator(store, clock).authenticate(user_key)
    assert user_key not in str(info.value)  # only the display prefix is ever echoed


async def test_expiry_is_checked_on_every_call_even_when_cached(
    store: Store, clock: FakeClock
) -> None:
    create_account(store, "acme", clock=clock)
    _, plaintext = create_key(
        store, "acme", "short", clock.now() + timedelta(seconds=60), clock=clock
    )
    auth = KeyAuthenticator(store, clock, ttl_s=3600)
    await auth.authenticate(plaintext)
    clock.advance(61)
    with pytest.raises(AuthenticationFailed, match="expired at 2026-01-01T00:01:00Z"):
        await auth.authenticate(plaintext)


async def test_answers_are_cached_for_the_ttl(
    store: Store, clock: FakeClock, user_key: str
) -> None:
    auth = KeyAuthenticator(store, clock, ttl_s=0.5)
    await auth.authenticate(user_key)
    revoke_key(store, display_prefix(user_key), clock=clock)
    await auth.authenticate(user_key)  # still cached
    clock.advance(0.51)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        await auth.authenticate(user_key)


async def test_misses_are_cached_too(store: Store, clock: FakeClock, user_key: str) -> None:
    auth = KeyAuthenticator(store, clock, ttl_s=0.5)
    newcomer = "tw-" + "n" * 43
    with pytest.raises(AuthenticationFailed, match="invalid"):
        await auth.authenticate(newcomer)
    account_id = (await auth.authenticate(user_key)).account_id
    with store.transaction() as conn:
        keys_repo.insert_key(
            conn,
            keys_repo.NewKey(
                new_id("key_"),
                account_id,
                "late",
                display_prefix(newcomer),
                hash_key(newcomer),
                "user",
                clock.now(),
                None,
            ),
        )
    with pytest.raises(AuthenticationFailed, match="invalid"):
        await auth.authenticate(newcomer)  # the miss is still cached
    clock.advance(0.51)
    assert (await auth.authenticate(newcomer)).key_name == "late"


async def test_the_cache_is_bounded(store: Store, clock: FakeClock) -> None:
    auth = KeyAuthenticator(store, clock, max_entries=3)
    for i in range(10):
        with pytest.raises(AuthenticationFailed):
            await auth.authenticate(f"tw-{i:043d}")
    assert auth.cache_size == 3


async def test_concurrent_callers_share_one_lookup(
    store: Store, clock: FakeClock, user_key: str
) -> None:
    auth = KeyAuthenticator(store, clock)
    principals = await asyncio.gather(*(auth.authenticate(user_key) for _ in range(50)))
    assert len(set(principals)) == 1
    assert auth.cache_size == 1


async def test_revocation_from_another_process_is_seen_within_a_second(
    store: Store, migrated_database_url: str, user_key: str
) -> None:
    auth = KeyAuthenticator(store, SystemClock())  # default TTL, real time
    await auth.authenticate(user_key)
    other = Store.connect(DatabaseSettings(url=migrated_database_url))  # the CLI's own store
    try:
        revoke_key(other, display_prefix(user_key), clock=SystemClock())
    finally:
        other.close()
    revoked_at = time.monotonic()
    while True:
        try:
            await auth.authenticate(user_key)
        except AuthenticationFailed:
            break
        assert time.monotonic() - revoked_at < 1.0, "revocation not seen within 1 s"
        await asyncio.sleep(0.02)


async def test_the_settings_admin_key_is_an_admin(store: Store, clock: FakeClock) -> None:
    auth = KeyAuthenticator(store, clock, admin_key=ADMIN)
    principal = await auth.authenticate_admin(ADMIN)
    assert principal.role == "admin" and principal.is_admin
    with pytest.raises(AuthenticationFailed, match="invalid"):
        await auth.authenticate(ADMIN + "x")


async def test_admin_routes_need_an_admin_role(
    store: Store, clock: FakeClock, user_key: str
) -> None:
    auth = KeyAuthenticator(store, clock, admin_key=ADMIN)
    with pytest.raises(PermissionDenied):
        await auth.authenticate_admin(user_key)
    _, admin_key = create_key(store, "acme", "ops", role="admin", clock=clock)
    assert (await auth.authenticate_admin(admin_key)).key_name == "ops"
    with pytest.raises(AuthenticationFailed, match="missing"):
        await auth.authenticate_admin(None)
