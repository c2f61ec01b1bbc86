"""Metering: provider usage blocks -> `Usage`; estimates only when the provider gave none."""

from tokenward.metering.usage import ZERO_USAGE, Usage

__all__ = ["ZERO_USAGE", "Usage"]
