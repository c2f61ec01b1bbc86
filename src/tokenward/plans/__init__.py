"""Subscription plans: versioned offers, subscriptions, seats and waitlists."""

from tokenward.plans.cache import Entitlement, EntitlementCache, entitlement_of
from tokenward.plans.model import PlanTerms, PlanVersion, Subscription, parse_terms
from tokenward.plans.service import PlanInfo, create_plan, get_plan, list_plans, reprice_plan
from tokenward.plans.subscriptions import (
    Cancellation,
    cancel,
    promote_waitlist,
    renew_due,
    subscribe,
    subscription_of,
    waitlist,
)

__all__ = [
    "Cancellation",
    "Entitlement",
    "EntitlementCache",
    "PlanInfo",
    "PlanTerms",
    "PlanVersion",
    "Subscription",
    "cancel",
    "create_plan",
    "entitlement_of",
    "get_plan",
    "list_plans",
    "parse_terms",
    "promote_waitlist",
    "renew_due",
    "reprice_plan",
    "subscribe",
    "subscription_of",
    "waitlist",
]
