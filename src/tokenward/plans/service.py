"""The plan catalogue: create, reprice, list and show plans (CLI and admin API alike).

Synchronous, like the store; async callers use `asyncio.to_thread`. Bad input is
`InvalidRequest`, an unknown plan `NotFound`, a name taken or a version that would
rewrite the past `Conflict`. Each change is one write transaction, audited after
it commits.

Repricing never edits a version: it adds one, copying the terms in force and
overriding what the caller gives, effective now or at a later instant. What
existing subscribers pay is decided by the new version's `grandfather` policy
(see `plans/subscriptions.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tokenward.audit.admin import record_admin_action
from tokenward.clock import Clock
from tokenward.errors import Conflict, InvalidRequest, NotFound
from tokenward.money import check_currency
from tokenward.plans import repo
from tokenward.plans.model import PlanTerms, PlanVersion, check_plan_name, parse_terms
from tokenward.plans.quota import QuotaPlan
from tokenward.storage.db import Store


@dataclass(frozen=True, slots=True)
class PlanInfo:
    """A plan as people see it: the version in force, its history and its seats."""

    current: PlanVersion  # in force now (or the first one, if none is yet)
    versions: tuple[PlanVersion, ...]
    active: int
    waitlisted: int

    def as_dict(self, *, history: bool = False) -> dict[str, Any]:
        shown = {
            **self.current.as_dict(),
            "active": self.active,
            "waitlisted": self.waitlisted,
            "seats": _seats(self.active, self.current.terms.max_subscribers),
        }
        if history:
            keep = ("version", "version_id", "effective_from", "price", "periods")
            shown["versions"] = [
                {k: d[k] for k in (*keep, "first_purchase_discount", "grandfather")}
                for d in (v.as_dict() for v in self.versions)
            ]
        return shown


def _seats(active: int, cap: int | None) -> str:
    return f"{active}/{cap}" if cap is not None else f"{active}/-"


def _checked(name: str, terms: PlanTerms) -> PlanTerms:
    """`terms`, once the quota engine accepts them (no two quotas on one window...)."""
    QuotaPlan("check", name, terms.quotas, terms.weights, terms.concurrency)
    return terms


def _aware(at: datetime | None, now: datetime, param: str) -> datetime:
    if at is None:
        return now
    if at.tzinfo is None:
        raise InvalidRequest(f"'{param}' must carry a time zone (e.g. Z)", param=param)
    return at


def create_plan(
    store: Store, definition: Mapping[str, Any], *, clock: Clock, actor: str = "cli"
) -> PlanInfo:
    """Create a plan (version 1, in force now) from a definition (`model.PLAN_FIELDS`).

    >>> create_plan(store, {"name": "pro", "currency": "USD", "price": "20"}, clock=clock)
    """
    name = check_plan_name(definition.get("name"))
    currency = check_currency(definition.get("currency"))
    terms = _checked(
        name, parse_terms({k: v for k, v in definition.items() if k not in ("name", "currency")})
    )
    now = clock.now()
    version = PlanVersion(name, 1, currency, now, now, terms)
    with store.transaction(write=True) as conn:
        if not repo.insert_plan(conn, name, currency, now):
            raise Conflict(f"plan {name!r} already exists: reprice it to change its terms")
        repo.insert_version(conn, version)
    record_admin_action(
        store, clock, actor, "plan.create", name, {"currency": currency, **terms.as_input()}
    )
    return PlanInfo(version, (version,), 0, 0)


def reprice_plan(
    store: Store,
    name: str,
    changes: Mapping[str, Any],
    *,
    effective_from: datetime | None = None,
    clock: Clock,
    actor: str = "cli",
) -> PlanInfo:
    """Add a version of `name`: the latest terms with `changes` applied, from `effective_from`.

    The new version must start now or later, and after every existing version:
    history is immutable.
    """
    if "name" in changes or "currency" in changes:
        raise InvalidRequest("a reprice cannot change the plan's name or currency")
    now = clock.now()
    start = _aware(effective_from, now, "effective_from")
    if start < now:
        raise InvalidRequest(
            "'effective_from' is in the past: a new version starts now or later",
            param="effective_from",
        )
    with store.transaction(write=True) as conn:
        currency = repo.lock_plan(conn, name)
        if currency is None:
            raise NotFound(f"unknown plan {name!r}")
        history = repo.versions(conn, name)
        latest = history[-1]
        terms = _checked(name, parse_terms(changes, base=latest.terms))
        if start <= latest.effective_from:
            raise Conflict(
                f"plan {name!r} already has version {latest.version} effective from "
                f"{latest.effective_from.isoformat()}: a new version must start after it"
            )
        version = PlanVersion(name, latest.version + 1, currency, start, now, terms)
        repo.insert_version(conn, version)
        history.append(version)
        info = _info(conn, name, history, now)
    record_admin_action(
        store,
        clock,
        actor,
        "plan.reprice",
        name,
        {"version": version.version, "effective_from": start.isoformat(), **terms.as_input()},
    )
    return info


def list_plans(store: Store, *, clock: Clock) -> list[PlanInfo]:
    """Every plan with the version in force now, by name."""
    now = clock.now()
    with store.transaction() as conn:
        return [_info(conn, n, repo.versions(conn, n), now) for n in repo.plan_names(conn)]


def get_plan(store: Store, name: str, *, clock: Clock) -> PlanInfo:
    """One plan with its version history; `NotFound` if there is none."""
    with store.transaction() as conn:
        history = repo.versions(conn, name)
        if not history:
            raise NotFound(f"unknown plan {name!r}")
        return _info(conn, name, history, clock.now())


def _info(conn: Any, name: str, history: list[PlanVersion], now: datetime) -> PlanInfo:
    current = repo.in_force(history, now) or history[0]
    return PlanInfo(
        current,
        tuple(history),
        repo.count_status(conn, name, "active"),
        repo.count_status(conn, name, "waitlisted"),
    )


__all__ = ["PlanInfo", "create_plan", "get_plan", "list_plans", "reprice_plan"]
