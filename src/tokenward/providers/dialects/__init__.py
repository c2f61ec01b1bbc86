"""Wire dialects (pure: no I/O): request validation and schema helpers."""

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
    "parse_chat_request",
    "parse_embeddings_request",
    "parse_json_object",
]
