"""Pricing: versioned, immutable price books and the rating of usage under them.

- `book`: the value objects (`PriceVersion`, `ModelPrice`, `PriceWindow`);
- `rating`: `rate()`, the one place a cost is computed and rounded (pure);
- `catalog`: `PriceCatalog` (the hot-path index) and `CatalogCache` (the gateway's);
- `document` / `formats`: the one document shape, as TOML, JSON or CSV;
- `service`: publish (import), export, list, and the shipped default book.
"""

from tokenward.pricing.book import (
    TOKEN_CATEGORIES,
    ModelPrice,
    PriceVersion,
    PriceWindow,
    version_id,
)
from tokenward.pricing.catalog import CatalogCache, PriceCatalog, load_catalog
from tokenward.pricing.formats import FORMATS, Format, check_format, format_of_path
from tokenward.pricing.rating import RatedLine, Rating, rate
from tokenward.pricing.service import (
    ImportResult,
    default_document,
    ensure_default_book,
    export_text,
    import_prices,
    import_text,
    list_in_force,
    version_dict,
)

__all__ = [
    "FORMATS",
    "TOKEN_CATEGORIES",
    "CatalogCache",
    "Format",
    "ImportResult",
    "ModelPrice",
    "PriceCatalog",
    "PriceVersion",
    "PriceWindow",
    "RatedLine",
    "Rating",
    "check_format",
    "default_document",
    "ensure_default_book",
    "export_text",
    "format_of_path",
    "import_prices",
    "import_text",
    "list_in_force",
    "load_catalog",
    "rate",
    "version_dict",
    "version_id",
]
