"""OpenAI <-> Anthropic translation, both directions, streams included (pure: no I/O).

requests   Anthropic Messages body <-> OpenAI chat-completions body
responses  Anthropic message <-> OpenAI chat completion
streams    stateful SSE translators, one per direction
mapping    the shared tables: stop reasons, tool choice, usage, images
"""

from tokenward.providers.dialects.translate.mapping import (
    ANTHROPIC_TO_OPENAI_STOP,
    ANTHROPIC_TO_OPENAI_TOOL_CHOICE,
    OPENAI_TO_ANTHROPIC_STOP,
    OPENAI_TO_ANTHROPIC_TOOL_CHOICE,
    anthropic_usage,
    openai_usage,
)
from tokenward.providers.dialects.translate.requests import (
    anthropic_request_to_openai,
    openai_request_to_anthropic,
)
from tokenward.providers.dialects.translate.responses import (
    anthropic_response_to_openai,
    openai_response_to_anthropic,
)
from tokenward.providers.dialects.translate.streams import (
    AnthropicEvent,
    AnthropicToOpenAIStream,
    OpenAIToAnthropicStream,
    encode_anthropic_event,
    encode_openai_chunk,
)

__all__ = [
    "ANTHROPIC_TO_OPENAI_STOP",
    "ANTHROPIC_TO_OPENAI_TOOL_CHOICE",
    "OPENAI_TO_ANTHROPIC_STOP",
    "OPENAI_TO_ANTHROPIC_TOOL_CHOICE",
    "AnthropicEvent",
    "AnthropicToOpenAIStream",
    "OpenAIToAnthropicStream",
    "anthropic_request_to_openai",
    "anthropic_response_to_openai",
    "anthropic_usage",
    "encode_anthropic_event",
    "encode_openai_chunk",
    "openai_request_to_anthropic",
    "openai_response_to_anthropic",
    "openai_usage",
]
