"""Observability: Prometheus metrics."""

from tokenward.observability.metrics import Metrics

__all__ = ["Metrics"]
