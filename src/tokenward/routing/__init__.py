"""Routing: which deployment serves a model."""

from tokenward.routing.router import Deployment, Router

__all__ = ["Deployment", "Router"]
