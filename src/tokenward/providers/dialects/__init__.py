"""Wire dialects (pure: no I/O): request validation and schema helpers."""

from tokenward.providers.dialects.anthropic import MessagesRequest, parse_messages_request
from tokenward.providers.dialects.openai import (
    ChatRequest,
    EmbeddingsRequest,
    parse_chat_request,
    parse_embeddings_request,
    parse_json_object,
)

__all__ = [
    "ChatRequest",
    "EmbeddingsRequest",
    "MessagesRequest",
    "parse_chat_request",
    "parse_embeddings_request",
    "parse_json_object",
    "parse_messages_request",
]
