"""Fake values for the corpus: every one is generated from a seeded `random.Random`.

Nothing here is a real person's data or a live credential: identity numbers and
card numbers are built from random digits with the checksums in `tests.guard.numbers`,
and secrets are random strings in the public formats of each vendor.
"""

# ruff: noqa: E501  (corpus data: one case per line reads better than wrapped text)

from __future__ import annotations

import base64
import json
import random
import string
import uuid

from tests.guard import numbers

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"

NAMES_ZH = (
    "张伟",
    "王芳",
    "李娜",
    "刘洋",
    "陈静",
    "杨磊",
    "赵敏",
    "黄强",
    "周婷",
    "吴昊",
    "徐丽",
    "孙浩",
)
NAMES_EN = (
    "Alice Chen",
    "Bob Martin",
    "Carol Wu",
    "David Kim",
    "Emma Liu",
    "Frank Zhao",
    "Grace Li",
)
COMPANIES_ZH = (
    "上海星河科技有限公司",
    "北京云帆信息技术有限公司",
    "深圳市启明电子有限公司",
    "杭州青禾网络科技有限公司",
)
COMPANIES_EN = (
    "Acme Trading Co., Ltd.",
    "Northwind Logistics",
    "Blue Harbor Software",
    "Kestrel Analytics",
)
CITIES = ("北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安")
EMAIL_DOMAINS = (
    "qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "example.com",
    "corp.example.cn", "mail.example.org", "foxmail.com", "sina.com", "example.co.uk",
)  # fmt: skip
EMAIL_USERS = ("zhangwei", "wang.fang", "lina88", "liu_yang", "chen.jing", "yanglei2020", "alice",
               "bob.martin", "carol+billing", "d.kim", "emma.liu", "ops-team", "hr", "frank.zhao")  # fmt: skip


def rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def digits(rng: random.Random, n: int, first: str = "123456789") -> str:
    return rng.choice(first) + rand(rng, string.digits, n - 1)


# --- PII -------------------------------------------------------------------------------


def resident_id(rng: random.Random, style: str = "") -> str:
    value = numbers.make_resident_id(rng)
    if style == "fw":
        return numbers.fullwidth(value)
    if style == "lower":
        return value.lower()
    if style == "spaced":
        return numbers.group(value, (6, 8), " ")
    return value


def mobile(rng: random.Random, style: str = "") -> str:
    value = numbers.make_mobile(rng)
    styles = {
        "fw": lambda v: numbers.fullwidth(v),
        "space": lambda v: numbers.group(v, (3, 4), " "),
        "dash": lambda v: numbers.group(v, (3, 4), "-"),
        "plus": lambda v: "+86 " + v,
        "plusdash": lambda v: "+86-" + numbers.group(v, (3, 4), "-"),
        "0086": lambda v: "0086" + v,
        "plusspace": lambda v: "+86 " + numbers.group(v, (3, 4), " "),
    }
    if style == "any":
        style = rng.choice(["", "", "", *styles])
    return styles[style](value) if style in styles else value


def card(rng: random.Random, style: str = "") -> str:
    value = numbers.make_card(rng)
    if style == "any":
        style = rng.choice(["", "space", "dash", "space"])
    if style == "space":
        return numbers.group(value, (4, 4, 4, 4), " ")
    if style == "dash":
        return numbers.group(value, (4, 4, 4, 4), "-")
    if style == "fw":
        return numbers.fullwidth(value)
    return value


def uscc(rng: random.Random, style: str = "") -> str:
    return numbers.make_uscc(rng)


def email(rng: random.Random, style: str = "") -> str:
    return f"{rng.choice(EMAIL_USERS)}@{rng.choice(EMAIL_DOMAINS)}"


def ipv4(rng: random.Random) -> str:
    kind = rng.randint(0, 3)
    if kind == 0:
        return f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if kind == 1:
        return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if kind == 2:
        return f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    return f"{rng.choice([8, 39, 47, 58, 101, 114, 120, 203])}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def ipv6(rng: random.Random) -> str:
    kind = rng.randint(0, 2)
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(4)]
    if kind == 0:
        return "2001:db8::" + ":".join(groups[:2])
    if kind == 1:
        return "fe80::" + ":".join(groups)
    return "2408:" + ":".join(f"{rng.randint(1, 0xFFFF):x}" for _ in range(7))


def ip(rng: random.Random, style: str = "") -> str:
    if style == "v4":
        return ipv4(rng)
    if style == "v6":
        return ipv6(rng)
    return ipv6(rng) if rng.random() < 0.25 else ipv4(rng)


# --- secrets ---------------------------------------------------------------------------


def openai_key(rng: random.Random, style: str = "") -> str:
    style = style or rng.choice(["legacy", "proj", "proj", "svcacct"])
    if style == "legacy":
        return f"sk-{rand(rng, ALNUM, 20)}T3BlbkFJ{rand(rng, ALNUM, 20)}"
    prefix = "sk-proj-" if style == "proj" else "sk-svcacct-"
    return f"{prefix}{rand(rng, B64URL, 74)}T3BlbkFJ{rand(rng, B64URL, 74)}"


def anthropic_key(rng: random.Random, style: str = "") -> str:
    return f"sk-ant-api03-{rand(rng, B64URL, 93)}AA"


def aws_access_key(rng: random.Random, style: str = "") -> str:
    prefix = "ASIA" if style == "sts" else "AKIA"
    return prefix + rand(rng, string.ascii_uppercase + "234567", 16)


def aws_secret_key(rng: random.Random, style: str = "") -> str:
    return rand(rng, B64, 40)


def aliyun_key(rng: random.Random, style: str = "") -> str:
    return "LTAI" + rng.choice(["5t", "4G", "5t", "4F"]) + rand(rng, ALNUM, 18)


def github_token(rng: random.Random, style: str = "") -> str:
    style = style or rng.choice(["ghp", "ghp", "gho", "ghs", "pat"])
    if style == "pat":
        return f"github_pat_11{rand(rng, string.ascii_uppercase + string.digits, 20)}_{rand(rng, ALNUM, 59)}"
    return f"{style}_{rand(rng, ALNUM, 36)}"


def private_key(rng: random.Random, style: str = "") -> str:
    style = style or rng.choice(["RSA ", "", "EC ", "OPENSSH "])
    lines = rng.randint(6, 14)
    if style == "OPENSSH ":
        body = ["b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"]
        body += [rand(rng, B64, 70) for _ in range(lines)]
    else:
        body = [("MII" if style != "EC " else "MHc") + rand(rng, B64, 61)]
        body += [rand(rng, B64, 64) for _ in range(lines)]
    body.append(rand(rng, B64, rng.randint(8, 60)) + "==")
    inner = "\n".join(body)
    return f"-----BEGIN {style}PRIVATE KEY-----\n{inner}\n-----END {style}PRIVATE KEY-----"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(rng: random.Random, style: str = "") -> str:
    header = {"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    payload = {
        "sub": str(uuid.UUID(int=rng.getrandbits(128))),
        "iat": rng.randint(1_700_000_000, 1_760_000_000),
        "scope": rng.choice(["read", "read write", "admin"]),
    }
    head = b64url(json.dumps(header, separators=(",", ":")).encode())
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    sig = b64url(rng.randbytes(32 if header["alg"] == "HS256" else 64))
    return f"{head}.{body}.{sig}"


def generic_secret(rng: random.Random, style: str = "") -> str:
    style = style or rng.choice(["password", "hex", "alnum", "django"])
    if style == "password":
        return rand(rng, ALNUM + "!@#$%^&*", rng.randint(12, 20))
    if style == "hex":
        return rand(rng, "0123456789abcdef", 32)
    if style == "django":
        return rand(rng, ALNUM + "!@#%^&*(-_=+)", 50)
    return rand(rng, ALNUM, rng.randint(24, 40))


# --- hard negatives ---------------------------------------------------------------------


def taobao_order(rng: random.Random) -> str:
    return digits(rng, 19, "1234")


def order_no(rng: random.Random) -> str:
    return f"{rng.randint(2019, 2025)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rand(rng, string.digits, rng.randint(6, 10))}"


def timestamp_ms(rng: random.Random) -> str:
    return str(rng.randint(1_600_000_000_000, 1_760_000_000_000))


def timestamp_ns(rng: random.Random) -> str:
    return str(rng.randint(1_600_000_000_000_000_000, 1_760_000_000_000_000_000))


def snowflake(rng: random.Random) -> str:
    return str(rng.randint(1_100_000_000_000_000_000, 1_900_000_000_000_000_000))


def sha1(rng: random.Random) -> str:
    return rand(rng, "0123456789abcdef", 40)


def sha256(rng: random.Random) -> str:
    return rand(rng, "0123456789abcdef", 64)


def a_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def png_base64(rng: random.Random) -> str:
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(rng.randint(120, 400))
    return base64.b64encode(data).decode()


def bad_resident_id(rng: random.Random) -> str:
    return numbers.make_resident_id(rng, valid=False)


def bad_card(rng: random.Random) -> str:
    return numbers.make_card(rng, valid=False)


def bad_uscc(rng: random.Random) -> str:
    return numbers.make_uscc(rng, valid=False)


def bad_mobile(rng: random.Random) -> str:
    """Eleven digits that are not on an allocated mobile prefix (10x, 11x, 12x, 154, 194)."""
    return rng.choice(["100", "110", "120", "123", "154", "194", "160"]) + rand(
        rng, string.digits, 8
    )


def version4(rng: random.Random) -> str:
    return f"{rng.randint(1, 12)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}.{rng.randint(0, 200)}"


GENERATORS = {
    "cn_resident_id": resident_id,
    "cn_mobile": mobile,
    "bank_card": card,
    "cn_uscc": uscc,
    "email": email,
    "ip_address": ip,
    "secret_openai_key": openai_key,
    "secret_anthropic_key": anthropic_key,
    "secret_aws_access_key": aws_access_key,
    "secret_aws_secret_key": aws_secret_key,
    "secret_aliyun_access_key": aliyun_key,
    "secret_github_token": github_token,
    "secret_private_key": private_key,
    "secret_jwt": jwt,
    "secret_generic": generic_secret,
}
