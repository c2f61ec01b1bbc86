"""A key's priority tier: checked against the configured tiers, stored, authenticated."""

from __future__ import annotations

import pytest

from tokenward.auth import KeyAuthenticator, create_account, create_key, list_keys, revoke_key
from tokenward.clock import FakeClock
from tokenward.errors import InvalidRequest
from tokenward.storage import Store

pytestmark = pytest.mark.anyio
TIERS = ("gold", "silver", "bronze")


async def test_a_key_carries_its_tier_to_the_principal(store: Store) -> None:
    clock = FakeClock()
    create_account(store, "acme", clock=clock)
    gold, gold_key = create_key(store, "acme", "fast", clock=clock, tier="gold", tiers=TIERS)
    plain, plain_key = create_key(store, "acme", "plain", clock=clock, tiers=TIERS)
    assert gold.tier == "gold" and plain.tier == ""
    auth = KeyAuthenticator(store, clock)
    assert (await auth.authenticate(gold_key)).tier == "gold"
    assert (await auth.authenticate(plain_key)).tier == ""
    listed = {k.id: k.tier for k in list_keys(store, "acme")}
    assert listed == {gold.id: "gold", plain.id: ""}
    assert list_keys(store)[0].as_dict(clock.now())["tier"] in ("gold", "")
    assert revoke_key(store, gold.id, clock=clock).tier == "gold"


@pytest.mark.parametrize(
    ("tier", "tiers", "message"),
    [
        ("platinum", TIERS, "unknown tier 'platinum': configured tiers are gold, silver, bronze"),
        ("gold", (), "unknown tier 'gold': no tiers are configured"),
    ],
)
async def test_an_unknown_tier_is_refused_and_nothing_is_written(
    store: Store, tier: str, tiers: tuple[str, ...], message: str
) -> None:
    clock = FakeClock()
    create_account(store, "acme", clock=clock)
    with pytest.raises(InvalidRequest, match=message):
        create_key(store, "acme", "k", clock=clock, tier=tier, tiers=tiers)
    assert list_keys(store, "acme") == []
