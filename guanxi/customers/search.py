"""Search keys for customer records and the matching query tokens.

A Chinese name is found by any two of its characters (every ordered pair is a key), a phone by
its last digits (keys hold the digits reversed, so "last digits" becomes a prefix), an e-mail by
its parts, a Latin name by the start of any word. Every lookup is a prefix range on one indexed
column (`term >= t AND term < t'`), which works the same, and fast, on SQLite and PostgreSQL.
"""

import re
import unicodedata
from collections.abc import Iterable
from itertools import combinations, pairwise

from guanxi.core.names import CJK

MAX_TERM_LENGTH = 64
PHONE_SUFFIX_MARK = "~"
PHONE_PREFIX_MARK = "#"

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_MAX_CJK_FOR_PAIRS = 8
_PHONE_QUERY = re.compile(r"\+?[\d\s\-().]+")


def normalise_text(value: str) -> str:
    return unicodedata.normalize("NFKC", value).casefold().strip()


def _cjk_chars(value: str) -> list[str]:
    return CJK.findall(value)


def name_terms(*names: str) -> set[str]:
    terms: set[str] = set()
    text = normalise_text(" ".join(n for n in names if n))
    chars = _cjk_chars(text)
    terms.update(chars)
    terms.update(a + b for a, b in combinations(chars[:_MAX_CJK_FOR_PAIRS], 2))
    for word in _WORD.findall(CJK.sub(" ", text)):
        terms.add(word)
    return terms


def email_terms(address: str) -> set[str]:
    address = normalise_text(address)
    if not address:
        return set()
    local, _at, domain = address.partition("@")
    terms = {address, local, domain}
    terms.update(_WORD.findall(address))
    return {t for t in terms if t}


def domain_terms(domain: str) -> set[str]:
    domain = normalise_text(domain)
    if not domain:
        return set()
    return {domain, *_WORD.findall(domain)}


def phone_terms(e164: str) -> set[str]:
    digits = re.sub(r"\D", "", e164)
    if not digits:
        return set()
    terms = {PHONE_SUFFIX_MARK + digits[::-1], PHONE_PREFIX_MARK + digits}
    return terms


def national_phone_term(national_digits: str) -> str:
    return PHONE_PREFIX_MARK + national_digits


def clip(terms: Iterable[str]) -> set[str]:
    return {t[:MAX_TERM_LENGTH] for t in terms if t}


def query_tokens(query: str) -> list[list[str]]:
    """The query as AND-ed groups of OR-ed prefixes: a record matches when each group matches."""
    groups: list[list[str]] = []
    text = normalise_text(query)
    if _PHONE_QUERY.fullmatch(text):
        digits = re.sub(r"\D", "", text)
        if len(digits) >= 3:
            return [[PHONE_SUFFIX_MARK + digits[::-1], PHONE_PREFIX_MARK + digits]]
    for piece in text.split():
        digits = re.sub(r"[\s\-().+]", "", piece)
        if digits.isdigit() and len(digits) >= 3:
            groups.append([PHONE_SUFFIX_MARK + digits[::-1], PHONE_PREFIX_MARK + digits])
            continue
        if "@" in piece or "." in piece:
            groups.append([piece[:MAX_TERM_LENGTH]])
            continue
        chars = _cjk_chars(piece)
        if chars:
            if len(chars) == 1:
                groups.append([chars[0]])
            else:
                groups.extend([[a + b] for a, b in pairwise(chars)])
        for word in _WORD.findall(CJK.sub(" ", piece)):
            groups.append([word[:MAX_TERM_LENGTH]])
    return groups


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix` (binary collation)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
