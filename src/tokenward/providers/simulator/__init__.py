"""The built-in `simulator` provider: deterministic, offline, OpenAI-compatible.

`SimulatorProvider` serves the `Provider` protocol in-process; `create_simulator_app`
serves the same replies over HTTP (`tokenward simulate`). The token, caching, reply and
fault rules are documented in `providers.simulator.engine`; the journal (the tests'
oracle of what the upstream billed) in `providers.simulator.journal`.
"""

from tokenward.providers.simulator.engine import (
    CACHE_BLOCK,
    EMBEDDING_DIMS,
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    REPLY_PRIMER,
    cached_tokens_for,
    count_prompt_tokens,
    count_text_tokens,
)
from tokenward.providers.simulator.journal import Attempt, Journal
from tokenward.providers.simulator.provider import SimulatorProvider, SimulatorStream
from tokenward.providers.simulator.server import SimulatorApp, create_simulator_app

__all__ = [
    "CACHE_BLOCK",
    "EMBEDDING_DIMS",
    "IMAGE_TOKENS",
    "MESSAGE_OVERHEAD",
    "REPLY_PRIMER",
    "Attempt",
    "Journal",
    "SimulatorApp",
    "SimulatorProvider",
    "SimulatorStream",
    "cached_tokens_for",
    "count_prompt_tokens",
    "count_text_tokens",
    "create_simulator_app",
]
