"""Limit rules: who is limited to what, as the CLI, the admin API and the gateway see it.

A rule names a scope (a key, an account, a plan or a model), optionally one model
the rule is restricted to, and up to four limits: requests per minute (`rpm`),
tokens per minute (`tpm`), tokens per day (`tpd`) and requests in flight
(`concurrency`). Rules live in the database (`limit_rules`); `limits.default_key_*`
in the config file give every key a rule of its own for the limits its stored
key rule leaves unset.

A request on model M by key K of account A is checked against every limit of:
K's rules for any model and for M, A's rules for any model and for M, the plan's
(once principals carry plans) and model M's own rule (all of M's traffic). Each
becomes one `LimitSpec`, so all of them are acquired atomically.

The functions here are synchronous, like the store; async callers use
`asyncio.to_thread`. Bad input is `InvalidRequest`, an unknown key, account or
model `NotFound`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tokenward.audit.admin import record_admin_action
from tokenward.auth.principal import Principal
from tokenward.clock import Clock, SystemClock
from tokenward.config.schema import LimitsSettings, ModelSettings
from tokenward.errors import InvalidRequest, NotFound
from tokenward.limits.model import DAY, MAX_LIMIT, MINUTE, SCOPE_KINDS, LimitSpec, ScopeKind
from tokenward.storage.db import Store
from tokenward.storage.repos import accounts as accounts_repo
from tokenward.storage.repos import keys as keys_repo
from tokenward.storage.repos import limits as limits_repo
from tokenward.storage.repos.limits import LIMIT_COLUMNS, RuleRow

_PLAN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MODEL = re.compile(r"[^\s{}]{1,200}")
_SCOPES: dict[str, ScopeKind] = {s: s for s in SCOPE_KINDS}


@dataclass(frozen=True, slots=True)
class LimitRule:
    """One rule; a None limit is not limited by it. `model` "" means any model."""

    scope: ScopeKind
    scope_id: str
    model: str = ""
    rpm: int | None = None
    tpm: int | None = None
    tpd: int | None = None
    concurrency: int | None = None
    updated_at: datetime | None = None
    #: for people: the account an account or key rule belongs to, and the key's name
    account: str | None = None
    key_name: str | None = None

    def specs(self) -> list[LimitSpec]:
        """The limits this rule enforces; a model-specific rule gets its own counters."""
        sid = self.scope_id if not self.model else f"{self.scope_id}@{self.model}"
        specs: list[LimitSpec] = []
        if self.rpm is not None:
            specs.append(LimitSpec(self.scope, sid, "requests", self.rpm, MINUTE))
        if self.tpm is not None:
            specs.append(LimitSpec(self.scope, sid, "tokens", self.tpm, MINUTE))
        if self.tpd is not None:
            specs.append(LimitSpec(self.scope, sid, "tokens", self.tpd, DAY))
        if self.concurrency is not None:
            specs.append(LimitSpec(self.scope, sid, "concurrency", self.concurrency))
        return specs

    @property
    def target(self) -> str:
        """Who the rule limits, for people: an account name rather than its id."""
        if self.scope == "account" and self.account:
            return self.account
        if self.scope == "key" and self.account:
            return f"{self.scope_id} ({self.account}/{self.key_name})"
        return self.scope_id

    def as_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "target": self.target,
            "scope_id": self.scope_id,
            "account": self.account,
            "key_name": self.key_name,
            "model": self.model or None,
            "rpm": self.rpm,
            "tpm": self.tpm,
            "tpd": self.tpd,
            "concurrency": self.concurrency,
            "updated_at": self.updated_at,
        }


def model_index(models: Iterable[ModelSettings]) -> dict[str, str]:
    """Public name or alias -> configured model name, for validating rule models."""
    index: dict[str, str] = {}
    for model in models:
        index[model.name] = model.name
        for alias in model.aliases:
            index[alias] = model.name
    return index


def set_limits(
    store: Store,
    *,
    key: str | None = None,
    account: str | None = None,
    plan: str | None = None,
    model: str | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    tpd: int | None = None,
    concurrency: int | None = None,
    models: Mapping[str, str] | None = None,
    clock: Clock,
    actor: str = "cli",
) -> LimitRule:
    """Create or update the rule of one target; limits not given keep their value.

    `models` (from `model_index`) validates `model` and maps aliases to the model
    name; without it any well-formed model name is accepted.
    """
    validate_limits(rpm=rpm, tpm=tpm, tpd=tpd, concurrency=concurrency)
    with store.transaction(write=True) as conn:
        target = _target(conn, key, account, plan, model, models)
        row = limits_repo.upsert_rule(
            conn,
            RuleRow(*target.ids, rpm, tpm, tpd, concurrency, clock.now()),
        )
    limits = {"rpm": rpm, "tpm": tpm, "tpd": tpd, "concurrency": concurrency}
    record_admin_action(store, clock, actor, "limits.set", target.describe(), limits)
    return _rule(row, account=target.account, key_name=target.key_name)


def delete_limits(
    store: Store,
    *,
    key: str | None = None,
    account: str | None = None,
    plan: str | None = None,
    model: str | None = None,
    models: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    actor: str = "cli",
) -> None:
    """Remove the rule of one target (every limit in it); `NotFound` if it has none."""
    with store.transaction(write=True) as conn:
        target = _target(conn, key, account, plan, model, models)
        if not limits_repo.delete_rule(conn, *target.ids):
            raise NotFound(f"no limits are set for {target.describe()}")
    record_admin_action(
        store, clock or SystemClock(), actor, "limits.delete", target.describe(), {}
    )


def list_limits(store: Store) -> list[LimitRule]:
    """Every stored rule, with the account names they concern."""
    with store.transaction() as conn:
        rows = limits_repo.list_rules(conn)
    return [_rule(r.rule, account=r.account_name, key_name=r.key_name) for r in rows]


def load_rules(store: Store) -> tuple[tuple[int, datetime | None], list[LimitRule]]:
    """Every rule and the fingerprint it was read at (one transaction)."""
    with store.transaction() as conn:
        return limits_repo.fingerprint(conn), [_rule(r) for r in limits_repo.all_rules(conn)]


def rules_fingerprint(store: Store) -> tuple[int, datetime | None]:
    """Changes whenever a rule is set or deleted: a cheap "anything new?" check."""
    with store.transaction() as conn:
        return limits_repo.fingerprint(conn)


class RuleBook:
    """A snapshot of every rule plus the key defaults, indexed for look-ups.

    >>> book = RuleBook(load_rules(store)[1], settings.limits)  # doctest: +SKIP
    >>> book.specs_for(principal, "sim-small")  # doctest: +SKIP
    """

    def __init__(self, rules: Iterable[LimitRule], defaults: LimitsSettings) -> None:
        self._by_target: dict[tuple[str, str], list[LimitRule]] = {}
        for rule in rules:
            self._by_target.setdefault((rule.scope, rule.scope_id), []).append(rule)
        self._defaults = {c: getattr(defaults, f"default_key_{c}") for c in LIMIT_COLUMNS}
        self._has_defaults = any(v is not None for v in self._defaults.values())
        #: specs per (key, account, plan, model), built once per snapshot
        self._specs: dict[tuple[str, str, str | None, str], tuple[LimitSpec, ...]] = {}

    @property
    def empty(self) -> bool:
        """No rule and no default: nothing is ever limited."""
        return not self._by_target and not self._has_defaults

    def rules_for(
        self, principal: Principal, model: str, plan: str | None = None
    ) -> list[LimitRule]:
        """The rules applying to one key on one (configured) model, key rules first."""
        key_id = principal.key_id
        found: list[LimitRule] = []
        targets: list[tuple[ScopeKind, str]] = [("key", key_id), ("account", principal.account_id)]
        if plan is not None:
            targets.append(("plan", plan))
        for scope, scope_id in targets:
            for rule in self._by_target.get((scope, scope_id), ()):
                if rule.model in ("", model):
                    if scope == "plan":
                        # a plan's limits are each subscriber's own, not shared by all
                        rule = replace(rule, scope_id=f"{plan}/{principal.account_id}")
                    found.append(rule)
        found += [r for r in self._by_target.get(("model", model), ()) if not r.model]
        if self._has_defaults:
            found = self._with_key_defaults(found, key_id)
        return found

    def specs_for(
        self, principal: Principal, model: str, plan: str | None = None
    ) -> tuple[LimitSpec, ...]:
        """Every limit a request must acquire; () when it is not limited at all."""
        cache_key = (principal.key_id, principal.account_id, plan, model)
        specs = self._specs.get(cache_key)
        if specs is None:
            specs = specs_of(self.rules_for(principal, model, plan))
            if len(self._specs) >= 100_000:  # a bound: a snapshot lives at most a minute
                self._specs.clear()
            self._specs[cache_key] = specs
        return specs

    def _with_key_defaults(self, rules: list[LimitRule], key_id: str) -> list[LimitRule]:
        """Fill the limits the key's own any-model rule leaves unset from the defaults."""
        own = next((r for r in rules if r.scope == "key" and not r.model), None)
        merged = {
            c: getattr(own, c) if own is not None and getattr(own, c) is not None else d
            for c, d in self._defaults.items()
        }
        rest = [r for r in rules if r is not own]
        return [LimitRule("key", key_id, **merged), *rest]


def validate_limits(
    *,
    rpm: int | None = None,
    tpm: int | None = None,
    tpd: int | None = None,
    concurrency: int | None = None,
) -> None:
    """`InvalidRequest` unless at least one limit is given and each is 1..MAX_LIMIT."""
    given = {"rpm": rpm, "tpm": tpm, "tpd": tpd, "concurrency": concurrency}
    for name, value in given.items():
        if value is not None and (type(value) is not int or not 1 <= value <= MAX_LIMIT):
            raise InvalidRequest(
                f"{name} must be a whole number from 1 to {MAX_LIMIT}, got {value!r} "
                "(to lift a limit, delete the rule)",
                param=name,
            )
    if all(v is None for v in given.values()):
        raise InvalidRequest("give at least one limit: rpm, tpm, tpd or concurrency")


@dataclass(frozen=True, slots=True)
class _Target:
    """What a rule applies to, resolved: ids for the store, names for people."""

    scope: ScopeKind
    scope_id: str
    model: str
    account: str | None = None
    key_name: str | None = None

    @property
    def ids(self) -> tuple[ScopeKind, str, str]:
        return self.scope, self.scope_id, self.model

    def describe(self) -> str:
        return f"{self.scope} {self.scope_id}" + (f" on model {self.model}" if self.model else "")


def _target(
    conn: Connection,
    key: str | None,
    account: str | None,
    plan: str | None,
    model: str | None,
    models: Mapping[str, str] | None,
) -> _Target:
    """The rule a request names, validated and resolved to ids."""
    named = {k: v for k, v in (("key", key), ("account", account), ("plan", plan)) if v is not None}
    if len(named) > 1:
        raise InvalidRequest(
            f"a rule applies to one of key, account or plan, got {' and '.join(named)}"
        )
    rule_model = "" if model is None else _model(model, models)
    if not named:
        if not rule_model:
            raise InvalidRequest(
                "name what the limits apply to: a key, an account, a plan or a model"
            )
        return _Target("model", rule_model, "")
    ((scope, ident),) = named.items()
    if scope == "key":
        row = keys_repo.find_by_id(conn, ident.strip())
        if row is None:
            raise NotFound(f"unknown key id {ident!r} (see `tokenward keys list`)")
        return _Target("key", row.id, rule_model, row.account_name, row.name)
    if scope == "account":
        found = accounts_repo.get_by_name(conn, ident)
        if found is None:
            raise NotFound(f"unknown account {ident!r}")
        return _Target("account", found.id, rule_model, found.name)
    if not _PLAN.fullmatch(ident):
        raise InvalidRequest(
            f"invalid plan name {ident!r}: 1-64 letters, digits, '.', '_' or '-'", param="plan"
        )
    return _Target("plan", ident, rule_model)


def _model(model: str, models: Mapping[str, str] | None) -> str:
    if models is not None:
        name = models.get(model)
        if name is None:
            raise NotFound(f"unknown model {model!r}: not in the config's [[models]]")
        return name
    if not _MODEL.fullmatch(model):
        raise InvalidRequest(f"invalid model name {model!r}", param="model")
    return model


def _rule(row: RuleRow, *, account: str | None = None, key_name: str | None = None) -> LimitRule:
    return LimitRule(
        scope=_SCOPES[row.scope],
        scope_id=row.scope_id,
        model=row.model,
        rpm=row.rpm,
        tpm=row.tpm,
        tpd=row.tpd,
        concurrency=row.concurrency,
        updated_at=row.updated_at,
        account=account,
        key_name=key_name,
    )


def specs_of(rules: Sequence[LimitRule]) -> tuple[LimitSpec, ...]:
    """All the limits of several rules, in order."""
    return tuple(s for rule in rules for s in rule.specs())


__all__ = [
    "LimitRule",
    "RuleBook",
    "delete_limits",
    "list_limits",
    "load_rules",
    "model_index",
    "rules_fingerprint",
    "set_limits",
    "specs_of",
    "validate_limits",
]
