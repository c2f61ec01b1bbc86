"""Schema of the pricing tables (filled in by the pricing work)."""

from __future__ import annotations

from tokenward.storage.tables import UtcDateTime, metadata

__all__: list[str] = []
_ = (UtcDateTime, metadata)
