"""`Charge`: what the money path decided and holds for one request until settle."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from tokenward.ledger.model import BilledTo

if TYPE_CHECKING:
    from tokenward.ledger.credits import CreditHold
    from tokenward.plans.cache import Entitlement
    from tokenward.plans.quota import QuotaHold


@dataclass(slots=True)
class Charge:
    """Who pays for a request, and the credit and quota it holds while in flight.

    The holds are cleared once settle has consumed them (or released them), so the
    stage's clean-up knows what is still outstanding when a request dies early.
    """

    billed_to: BilledTo
    #: the plan's pay-as-you-go multiplier for overage (1 outside a plan)
    multiplier: Decimal = Decimal(1)
    credit_hold: CreditHold | None = None
    quota_hold: QuotaHold | None = None
    entitlement: Entitlement | None = None


#: the charge of a request nobody pays for (the config admin key, unknown accounts)
def free() -> Charge:
    return Charge("none")


__all__ = ["Charge", "free"]
