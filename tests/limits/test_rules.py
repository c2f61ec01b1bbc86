"""Limit rules in the store (SQLite and PostgreSQL): set, merge, list, delete, validation,
and the snapshot cache a gateway enforces."""

from __future__ import annotations

import pytest

from tokenward.auth import Principal, create_account, create_key
from tokenward.clock import FakeClock
from tokenward.config.schema import LimitsSettings, ModelSettings
from tokenward.errors import InvalidRequest, NotFound
from tokenward.limits import (
    RuleCache,
    delete_limits,
    list_limits,
    model_index,
    set_limits,
)
from tokenward.storage import Store

pytestmark = pytest.mark.anyio

MODELS = model_index(
    [
        ModelSettings("sim-small", "sim", "sim-small", aliases=("small",)),
        ModelSettings("sim-large", "sim", "sim-large"),
    ]
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_set_merges_limits_and_list_names_the_account(store: Store, clock: FakeClock) -> None:
    account = create_account(store, "acme", clock=clock)
    key, _ = create_key(store, "acme", "ci", clock=clock)
    set_limits(store, account="acme", rpm=100, clock=clock)
    clock.advance(1)
    rule = set_limits(store, account="acme", tpm=5_000, clock=clock)
    assert (rule.scope, rule.scope_id, rule.rpm, rule.tpm) == ("account", account.id, 100, 5_000)
    assert rule.target == "acme"
    set_limits(store, key=key.id, model="small", concurrency=2, models=MODELS, clock=clock)
    set_limits(store, model="sim-large", tpd=10**9, models=MODELS, clock=clock)
    set_limits(store, plan="gold", rpm=1_000, clock=clock)
    listed = [r.as_dict() for r in list_limits(store)]
    assert [(r["scope"], r["target"], r["model"]) for r in listed] == [
        ("account", "acme", None),
        ("key", f"{key.id} (acme/ci)", "sim-small"),
        ("model", "sim-large", None),
        ("plan", "gold", None),
    ]
    assert listed[0]["rpm"] == 100 and listed[0]["tpm"] == 5_000 and listed[0]["tpd"] is None


def test_delete_lifts_every_limit_of_a_target(store: Store, clock: FakeClock) -> None:
    create_account(store, "acme", clock=clock)
    set_limits(store, account="acme", rpm=10, clock=clock)
    delete_limits(store, account="acme")
    assert list_limits(store) == []
    with pytest.raises(NotFound, match="no limits are set for account"):
        delete_limits(store, account="acme")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"account": "acme", "rpm": 0}, InvalidRequest, "rpm must be a whole number from 1"),
        ({"account": "acme", "tpm": -5}, InvalidRequest, "tpm must be"),
        ({"account": "acme", "rpm": True}, InvalidRequest, "rpm must be"),
        ({"account": "acme", "rpm": "10"}, InvalidRequest, "rpm must be"),
        ({"account": "acme"}, InvalidRequest, "at least one limit"),
        ({"rpm": 5}, InvalidRequest, "name what the limits apply to"),
        ({"account": "acme", "plan": "gold", "rpm": 5}, InvalidRequest, "one of key, account"),
        ({"account": "nope", "rpm": 5}, NotFound, "unknown account 'nope'"),
        ({"key": "key_nope", "rpm": 5}, NotFound, "unknown key id 'key_nope'"),
        ({"plan": "bad plan", "rpm": 5}, InvalidRequest, "invalid plan name"),
        ({"model": "gpt-9", "rpm": 5}, NotFound, "unknown model 'gpt-9'"),
    ],
)
def test_bad_rules_are_refused_clearly(
    store: Store,
    clock: FakeClock,
    kwargs: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    create_account(store, "acme", clock=clock)
    with pytest.raises(error, match=message):
        set_limits(store, models=MODELS, clock=clock, **kwargs)  # type: ignore[arg-type]
    assert list_limits(store) == []


async def test_the_cache_sees_a_change_within_its_ttl(store: Store, clock: FakeClock) -> None:
    create_account(store, "acme", clock=clock)
    key, _ = create_key(store, "acme", "ci", clock=clock)
    principal = Principal(key.account_id, "acme", key.id, "ci", "user")
    cache = RuleCache(store, LimitsSettings(), clock, ttl_s=0.5)
    book = await cache.book()
    assert book.empty
    set_limits(store, key=key.id, rpm=7, clock=clock)
    assert await cache.book() is book  # trusted for the TTL
    clock.advance(0.5)
    fresh = await cache.book()
    assert [s.limit for s in fresh.specs_for(principal, "sim-small")] == [7]
    clock.advance(0.5)
    assert await cache.book() is fresh  # re-checked, unchanged: not reloaded
    clock.advance(0.1)
    set_limits(store, key=key.id, rpm=8, clock=clock)
    clock.advance(0.5)
    assert [s.limit for s in (await cache.book()).specs_for(principal, "m")] == [8]


async def test_the_cache_reloads_now_and_then_even_without_changes(
    store: Store, clock: FakeClock
) -> None:
    cache = RuleCache(store, LimitsSettings(), clock, ttl_s=0.5)
    book = await cache.book()
    clock.advance(30)
    assert await cache.book() is book
    clock.advance(31)
    assert await cache.book() is not book


async def test_the_cache_keeps_its_rules_when_the_store_fails(
    store: Store, clock: FakeClock
) -> None:
    create_account(store, "acme", clock=clock)
    set_limits(store, account="acme", rpm=3, clock=clock)
    cache = RuleCache(store, LimitsSettings(), clock, ttl_s=0.5)
    book = await cache.book()
    store.close()
    clock.advance(1)
    assert await cache.book() is book


def test_the_cache_ttl_is_at_most_a_second(store: Store, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="TTL"):
        RuleCache(store, LimitsSettings(), clock, ttl_s=2)


async def test_plan_rules_give_each_subscriber_their_own_counters(
    store: Store, clock: FakeClock
) -> None:
    set_limits(store, plan="pro", rpm=60, clock=clock)
    set_limits(store, plan="pro", model="sim-large", tpm=1000, models=MODELS, clock=clock)
    book = await RuleCache(store, LimitsSettings(), clock, ttl_s=0.5).book()
    alice = Principal("acc_alice", "alice", "key_a", "ci", "user")
    bob = Principal("acc_bob", "bob", "key_b", "ci", "user")
    assert book.specs_for(alice, "sim-small") == ()  # no plan: plan rules do not apply
    mine = book.specs_for(alice, "sim-large", "pro")
    assert {(s.scope, s.scope_id, s.metric, s.limit) for s in mine} == {
        ("plan", "pro/acc_alice", "requests", 60),
        ("plan", "pro/acc_alice@sim-large", "tokens", 1000),
    }
    theirs = book.specs_for(bob, "sim-small", "pro")
    assert [s.scope_id for s in theirs] == ["pro/acc_bob"]
    assert book.specs_for(bob, "sim-small", "basic") == ()
