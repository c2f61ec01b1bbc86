"""Checksum arithmetic for test data, written independently of `tokenward.guard`.

The corpus and the unit tests make their own valid and invalid numbers with these
functions, so a bug in a detector's checksum cannot hide behind the same bug here.
"""

from __future__ import annotations

import random

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

#: Region codes of real districts and counties (GB/T 2260), used to build fake IDs.
REGIONS = (
    "110101", "110105", "110108", "120101", "120104", "130102", "130104", "140105",
    "150102", "210102", "210203", "220104", "230103", "310101", "310104", "310115",
    "320102", "320506", "330106", "330212", "340104", "350203", "360102", "370202",
    "410105", "420106", "430104", "440106", "440305", "441900", "450103", "460105",
    "500103", "510107", "520102", "530102", "540102", "610113", "620102", "630102",
    "640104", "650102", "442000", "321282", "522628",
)  # fmt: skip


def id_check_char(first17: str) -> str:
    """The 18th character of a resident ID (ISO 7064 MOD 11-2)."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def make_resident_id(rng: random.Random, *, valid: bool = True) -> str:
    """A fake 18-character resident ID; `valid=False` breaks only the check character."""
    region = rng.choice(REGIONS)
    year = rng.randint(1950, 2006)
    month = rng.randint(1, 12)
    day = rng.randint(1, 28)
    seq = f"{rng.randint(0, 999):03d}"
    first17 = f"{region}{year:04d}{month:02d}{day:02d}{seq}"
    check = id_check_char(first17)
    if not valid:
        check = rng.choice([c for c in ID_CHECK if c != check])
    return first17 + check


def uscc_check_char(first17: str) -> str:
    """The 18th character of a Unified Social Credit Code (GB 32100-2015, mod 31)."""
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def make_uscc(rng: random.Random, *, valid: bool = True) -> str:
    """A fake USCC: registration office, category, region, organisation code, check."""
    office, category = rng.choice(["91", "91", "91", "92", "93", "12", "11", "51", "52", "53"])
    region = rng.choice(REGIONS[:40])
    body = "".join(rng.choice(USCC_CHARS) for _ in range(9))
    first17 = f"{office}{category}{region}{body}"
    check = uscc_check_char(first17)
    if not valid:
        check = rng.choice([c for c in USCC_CHARS if c != check])
    return first17 + check


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    """True when `number` passes the Luhn check."""
    return luhn_check_digit(number[:-1]) == number[-1]


#: Issuer prefixes of real card programmes with the lengths they use.
CARD_PREFIXES = (
    ("622202", 19), ("622848", 19), ("621700", 19), ("622588", 16), ("621661", 19),
    ("622262", 19), ("625807", 16), ("628288", 16), ("623668", 19), ("620522", 19),
    ("4", 16), ("4", 16), ("51", 16), ("53", 16), ("55", 16), ("2221", 16), ("2720", 16),
    ("3528", 16), ("6011", 16), ("9558", 19),
)  # fmt: skip


def make_card(rng: random.Random, *, valid: bool = True) -> str:
    """A fake card number with a real issuer prefix; `valid=False` breaks the Luhn digit."""
    prefix, length = rng.choice(CARD_PREFIXES)
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    check = luhn_check_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    return body + check


MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "145", "147",
    "150", "151", "152", "153", "155", "156", "157", "158", "159", "166", "172", "173",
    "175", "176", "177", "178", "180", "181", "182", "183", "184", "185", "186", "187",
    "188", "189", "190", "191", "193", "195", "196", "197", "198", "199",
)  # fmt: skip


def make_mobile(rng: random.Random) -> str:
    """A fake 11-digit mainland mobile number on an allocated prefix."""
    return rng.choice(MOBILE_PREFIXES) + "".join(str(rng.randint(0, 9)) for _ in range(8))


def group(number: str, sizes: tuple[int, ...], sep: str = " ") -> str:
    """Split `number` into groups of `sizes` (the rest in a last group) joined by `sep`."""
    parts, pos = [], 0
    for size in sizes:
        parts.append(number[pos : pos + size])
        pos += size
    if pos < len(number):
        parts.append(number[pos:])
    return sep.join(p for p in parts if p)


def fullwidth(text: str) -> str:
    """ASCII digits and letters as their full-width forms (U+FF10...)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)
