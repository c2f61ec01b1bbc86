"""Routing: which deployments serve a model, in which order, and with what backoff."""

from tokenward.routing.retry import Backoff, ExponentialJitterBackoff, NoBackoff
from tokenward.routing.router import Deployment, Router

__all__ = ["Backoff", "Deployment", "ExponentialJitterBackoff", "NoBackoff", "Router"]
