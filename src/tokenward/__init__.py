"""Tokenward: a token-economy gateway for LLMs."""

__version__ = "0.1.0"
