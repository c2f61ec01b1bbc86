"""Schema of the plans tables (filled in by the plans work)."""

from __future__ import annotations

from tokenward.storage.tables import UtcDateTime, metadata

__all__: list[str] = []
_ = (UtcDateTime, metadata)
