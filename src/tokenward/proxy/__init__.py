"""The proxy path: context, pipeline (stage order) and relay."""

from tokenward.proxy.context import ClientSink, RequestContext, RequestIds
from tokenward.proxy.pipeline import Pipeline
from tokenward.proxy.relay import Relay

__all__ = ["ClientSink", "Pipeline", "Relay", "RequestContext", "RequestIds"]
