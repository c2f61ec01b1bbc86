"""One detector per family of finding types; `default_detectors()` lists them in order."""

from __future__ import annotations

from datetime import date

from tokenward.guard.detectors.bank_card import BankCardDetector
from tokenward.guard.detectors.base import Detector, ScanContext
from tokenward.guard.detectors.cn_id import ResidentIdDetector
from tokenward.guard.detectors.email import EmailDetector
from tokenward.guard.detectors.exfil import ExfilUrlDetector
from tokenward.guard.detectors.invisible import InvisibleTextDetector
from tokenward.guard.detectors.ip import IpAddressDetector
from tokenward.guard.detectors.phone import MobileDetector
from tokenward.guard.detectors.secrets import SecretsDetector
from tokenward.guard.detectors.uscc import UsccDetector


def data_detectors(latest_birth: date = date(2099, 12, 31)) -> tuple[Detector, ...]:
    """The PII and secret detectors (what is rescanned inside decoded runs and URLs)."""
    return (
        SecretsDetector(),
        ResidentIdDetector(latest_birth),
        UsccDetector(),
        BankCardDetector(),
        MobileDetector(),
        EmailDetector(),
        IpAddressDetector(),
    )


__all__ = [
    "BankCardDetector",
    "Detector",
    "EmailDetector",
    "ExfilUrlDetector",
    "InvisibleTextDetector",
    "IpAddressDetector",
    "MobileDetector",
    "ResidentIdDetector",
    "ScanContext",
    "SecretsDetector",
    "UsccDetector",
    "data_detectors",
]
