"""Likely duplicates of a person or an account: the evidence, its score, and the lookups.

Two records are likely the same when they share a normalised e-mail address or phone number, an
organisation's registration number or website domain, or a company, *and* their names agree:
the same name in another script (张伟 / Wei Zhang), typed with a typo, or in another word order.
A name alone never makes a pair: in a large base there are hundreds of 王伟, and two people with
only a surname in common (王伟 / 王芳) are different people.

This module holds the scoring rules once. The create and edit forms and the import ask
`likely_duplicates_of_person` / `likely_duplicates_of_account` about one record (a few indexed
lookups, never a scan); `dataio.duplicates` runs the same scoring over candidate pairs of the
whole database, found by blocking keys so it never compares all pairs. Reads only.
"""

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz

from guanxi.core.names import CJK
from guanxi.customers.models import Account, EmailAddress, Person, PhoneNumber, Role
from guanxi.customers.normalise import InvalidValueError, domain_of, normalise_email, normalise_phone
from guanxi.staff import access
from guanxi.staff.models import User

# A pair is a likely duplicate from this score on (0-100).
THRESHOLD = 50

# Evidence points. A shared contact detail or company makes a pair worth looking at; the name
# decides whether it is the same person; conflicting facts (two birthdays, two registration
# numbers) count against it.
EMAIL_POINTS = 50
PHONE_POINTS = 40
ACCOUNT_POINTS = 20
REGISTRATION_POINTS = 60
DOMAIN_POINTS = 35
ACCOUNT_PHONE_POINTS = 30
NAME_SAME_POINTS = 40
NAME_CLOSE_POINTS = 30
NAME_NEAR_POINTS = 10
NAME_DIFFERENT_PENALTY = -20
CONFLICT_PENALTY = -30

REASON_LABELS = {
    "email": _("same e-mail"),
    "phone": _("same phone"),
    "account": _("same company"),
    "registration": _("same registration number"),
    "domain": _("same website domain"),
    "name": _("same name"),
    "similar_name": _("similar name"),
    "other_birthday": _("different birthday"),
    "other_registration": _("different registration number"),
}

# Pinyin of surnames that read differently as a surname than as a word (曾 zēng, not céng).
_SURNAME_PINYIN = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "区": "ou",
    "查": "zha",
    "盖": "ge",
    "乐": "yue",
    "尉迟": "yuchi",
    "万俟": "moqi",
    "长孙": "zhangsun",
    "秘": "bi",
    "繁": "po",
    "覃": "qin",
}
_LATIN_WORD = re.compile(r"[a-z0-9]+")
_NAME_CHARS = re.compile(r"[^\W_]+")

# Words that say what kind of organisation a name is, not which one; dropped before comparing.
_LEGAL_SUFFIXES = re.compile(
    r"(股份有限公司|集团有限公司|有限责任公司|有限公司|集团|公司"
    r"|\b(?:co|ltd|limited|inc|incorporated|llc|plc|gmbh|corp|corporation|company|group)\b\.?)",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=50_000)
def _char_pinyin(char: str) -> str:
    return "".join(lazy_pinyin(char)).replace("ü", "u").replace("v", "u")


def pinyin_of(text: str, *, surname: bool = False) -> str:
    """Toneless pinyin of the Chinese characters in `text`, joined (晓明 → xiaoming).

    Cached per character: a million names cost a dictionary lookup per character, not a
    segmentation each (pypinyin's phrase logic does not help with names anyway).
    """
    chars = "".join(CJK.findall(text))
    if not chars:
        return ""
    if surname:
        for length in (2, 1):
            head = chars[:length]
            if len(head) == length and head in _SURNAME_PINYIN:
                return _SURNAME_PINYIN[head] + "".join(_char_pinyin(c) for c in chars[length:])
    return "".join(_char_pinyin(c) for c in chars)


def latin_fold(text: str) -> str:
    """Lower case without accents (Müller → muller, Lü → lu), for comparing Latin spellings."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class NameForms:
    """A person's name in the forms compared: its characters and its Latin spelling.

    `family`/`given` are Latin (pinyin for Chinese names), without spaces; `words` are every
    Latin word, for word-order-free comparison.
    """

    cjk: str
    family: str
    given: str
    words: tuple[str, ...]
    cjk_swapped: str = ""  # given name's characters first: the fields filled the wrong way round

    @property
    def latin(self) -> str:
        return " ".join(sorted(self.words))

    @property
    def keys(self) -> set[str]:
        """Blocking keys: each Latin word of the name (pinyin for characters), so a pair that
        shares a company and one name word is compared, and any typo leaves the other word."""
        keys = {w for w in (self.family, self.given, *self.words) if len(w) >= 2}
        if not self.cjk:  # pinyin typed with v for ü meets the characters' pinyin (Lv / 吕 lu)
            keys |= {k.replace("v", "u") for k in keys}
        return keys


def name_forms(family_name: str, given_name: str) -> NameForms:
    family_name, given_name = family_name.strip(), given_name.strip()
    cjk = "".join(CJK.findall(family_name + given_name))
    if cjk:
        family = pinyin_of(family_name, surname=True)
        given = pinyin_of(given_name)
        if not family and not given:  # characters only in one field
            family = pinyin_of(cjk, surname=True)
        words = tuple(w for w in (family, given) if w)
        extra = _LATIN_WORD.findall(latin_fold(CJK.sub(" ", family_name + " " + given_name)))
        swapped = "".join(CJK.findall(given_name + family_name))
        return NameForms(cjk, family, given, words + tuple(extra), swapped)
    family_words = _LATIN_WORD.findall(latin_fold(family_name))
    given_words = _LATIN_WORD.findall(latin_fold(given_name))
    return NameForms("", "".join(family_words), "".join(given_words), tuple(family_words + given_words))


def name_similarity(a: NameForms, b: NameForms) -> float:
    """How alike two names are, 0 to 1, whatever script each is written in.

    - Both in characters: identical 1.0; the same pinyin (a homophone, the usual typo of a pinyin
      input method: 张晓明 / 张小明) or family and given name swapped 0.95; otherwise the
      character edit ratio (王伟 / 王芳 = 0.5).
    - One in characters, one in Latin letters: the pinyin against the Latin spelling, in either
      order (王伟 / Wei Wang), less 0.1 unless exact, because a letter lost from pinyin is
      usually another character, not a typo.
    - Both Latin: the best of the edit ratio of family+given against family+given or
      given+family (fields swapped), and a word-order-free ratio (typos, word order).
    """
    if a.cjk and b.cjk:
        if a.cjk == b.cjk:
            return 1.0
        if a.cjk == b.cjk_swapped or a.family + a.given in (b.family + b.given, b.given + b.family):
            return 0.95
        return fuzz.ratio(a.cjk, b.cjk) / 100
    if a.cjk or b.cjk:
        # Pinyin has no "v" but for ü, which people type as v or u (吕 Lv / Lu).
        latin = _latin_similarity(_v_as_u(a), _v_as_u(b))
        return latin if latin >= 1.0 else max(0.0, latin - 0.1)
    return _latin_similarity(a, b)


def _v_as_u(name: NameForms) -> NameForms:
    if name.cjk:
        return name
    return NameForms(
        "", name.family.replace("v", "u"), name.given.replace("v", "u"), tuple(w.replace("v", "u") for w in name.words)
    )


def _latin_similarity(a: NameForms, b: NameForms) -> float:
    if not a.words or not b.words:
        return 0.0
    forward = a.family + a.given
    best = max(
        fuzz.ratio(forward, b.family + b.given),
        fuzz.ratio(forward, b.given + b.family),
        fuzz.token_sort_ratio(a.latin, b.latin),
        fuzz.ratio("".join(sorted(a.words)), "".join(sorted(b.words))),
    )
    return best / 100


def _name_points(similarity: float) -> tuple[int, str]:
    if similarity >= 0.97:
        return NAME_SAME_POINTS, "name"
    if similarity >= 0.85:
        return NAME_CLOSE_POINTS, "similar_name"
    if similarity >= 0.7:
        return NAME_NEAR_POINTS, "similar_name"
    if similarity < 0.5:
        return NAME_DIFFERENT_PENALTY, ""
    return 0, ""


# ---------------------------------------------------------------------------------------------
# The facts compared, and the score


@dataclass
class PersonFacts:
    """What the scoring needs to know of a person, loaded in bulk or built from form input."""

    id: int | None
    name: NameForms
    emails: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()
    account_ids: frozenset[int] = frozenset()
    birthday: str = ""


@dataclass
class AccountFacts:
    id: int | None
    name: str  # normalised: legal form words dropped, case and spaces folded
    registration: str = ""
    domain: str = ""
    phone: str = ""
    parent_id: int | None = None


@dataclass(frozen=True)
class Score:
    score: int
    reasons: tuple[str, ...]

    @property
    def is_likely(self) -> bool:
        return self.score >= THRESHOLD


def score_people(a: PersonFacts, b: PersonFacts) -> Score:
    points = 0
    reasons: list[str] = []
    if a.emails & b.emails:
        points += EMAIL_POINTS
        reasons.append("email")
    if a.phones & b.phones:
        points += PHONE_POINTS
        reasons.append("phone")
    if a.account_ids & b.account_ids:
        points += ACCOUNT_POINTS
        reasons.append("account")
    name_points, name_reason = _name_points(name_similarity(a.name, b.name))
    points += name_points
    if name_reason:
        reasons.insert(0, name_reason)
    if a.birthday and b.birthday and a.birthday != b.birthday:
        points += CONFLICT_PENALTY
        reasons.append("other_birthday")
    return Score(max(0, min(100, points)), tuple(reasons))


def account_name_key(name: str) -> str:
    """Account name without its legal form, spaces, punctuation and case:
    上海明远科技有限公司 → 上海明远科技, Northwind Systems Ltd. → northwindsystems."""
    text = latin_fold(_LEGAL_SUFFIXES.sub(" ", unicodedata.normalize("NFKC", name)))
    return "".join(_NAME_CHARS.findall(text))


def normalise_registration(value: str) -> str:
    return re.sub(r"[\s\-./]", "", value).upper()


def score_accounts(a: AccountFacts, b: AccountFacts) -> Score:
    points = 0
    reasons: list[str] = []
    if a.registration and a.registration == b.registration:
        points += REGISTRATION_POINTS
        reasons.append("registration")
    elif a.registration and b.registration:
        points += CONFLICT_PENALTY - 10
        reasons.append("other_registration")
    if a.domain and a.domain == b.domain:
        points += DOMAIN_POINTS
        reasons.append("domain")
    if a.phone and a.phone == b.phone:
        points += ACCOUNT_PHONE_POINTS
        reasons.append("phone")
    similarity = fuzz.ratio(a.name, b.name) / 100 if a.name and b.name else 0.0
    if similarity >= 0.97:
        points += NAME_SAME_POINTS
        reasons.insert(0, "name")
    elif similarity >= 0.9:
        points += 25
        reasons.insert(0, "similar_name")
    elif similarity >= 0.8:
        points += NAME_NEAR_POINTS
        reasons.insert(0, "similar_name")
    elif similarity < 0.5:
        points += NAME_DIFFERENT_PENALTY
    return Score(max(0, min(100, points)), tuple(reasons))


def is_parent_and_child(a: AccountFacts, b: AccountFacts) -> bool:
    """A branch shares its group's website: a parent and its child are never duplicates."""
    return (a.id is not None and b.parent_id == a.id) or (b.id is not None and a.parent_id == b.id)


# ---------------------------------------------------------------------------------------------
# Loading facts in bulk

_BATCH = 500


def _batches(ids: Sequence[int], size: int = _BATCH) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def load_person_facts(ids: Iterable[int], batch_size: int = _BATCH) -> dict[int, PersonFacts]:
    """Facts of many people in four queries per batch (names, e-mails, phones, companies)."""
    wanted = sorted(set(ids))
    facts: dict[int, PersonFacts] = {}
    for batch in _batches(wanted, batch_size):
        emails: dict[int, set[str]] = {}
        for person_id, address in EmailAddress.objects.filter(person_id__in=batch).values_list("person_id", "address"):
            emails.setdefault(person_id, set()).add(address)
        phones: dict[int, set[str]] = {}
        for person_id, number in PhoneNumber.objects.filter(person_id__in=batch).values_list("person_id", "number"):
            phones.setdefault(person_id, set()).add(number)
        accounts: dict[int, set[int]] = {}
        for person_id, account_id in Role.objects.filter(person_id__in=batch).values_list("person_id", "account_id"):
            accounts.setdefault(person_id, set()).add(account_id)
        rows = Person.objects.filter(pk__in=batch).values_list("pk", "family_name", "given_name", "birthday")
        for pk, family, given, birthday in rows:
            facts[pk] = PersonFacts(
                id=pk,
                name=name_forms(family, given),
                emails=frozenset(emails.get(pk, ())),
                phones=frozenset(phones.get(pk, ())),
                account_ids=frozenset(accounts.get(pk, ())),
                birthday=birthday.isoformat() if birthday else "",
            )
    return facts


def account_facts_from(
    pk: int | None, name: str, registration: str, domain: str, phone: str, parent_id: int | None
) -> AccountFacts:
    return AccountFacts(
        id=pk,
        name=account_name_key(name),
        registration=normalise_registration(registration),
        domain=domain,
        phone=phone,
        parent_id=parent_id,
    )


def load_account_facts(ids: Iterable[int], batch_size: int = _BATCH) -> dict[int, AccountFacts]:
    wanted = sorted(set(ids))
    facts: dict[int, AccountFacts] = {}
    for batch in _batches(wanted, batch_size):
        rows = Account.objects.filter(pk__in=batch).values_list(
            "pk", "name", "registration_number", "domain", "phone", "parent_id"
        )
        for pk, name, registration, domain, phone, parent_id in rows:
            facts[pk] = account_facts_from(pk, name, registration, domain, phone, parent_id)
    return facts


# ---------------------------------------------------------------------------------------------
# One record against the database: the forms and the import


@dataclass(frozen=True)
class DuplicateMatch:
    """A likely duplicate of the record being entered: who, how likely, and why."""

    record: Any  # Person or Account
    score: int
    reasons: tuple[str, ...] = field(default=())

    @property
    def reason_labels(self) -> list[str]:
        return [str(REASON_LABELS[r]) for r in self.reasons if r in REASON_LABELS]


def _lenient(values: Iterable[str], normalise: Any) -> set[str]:
    """Normalised values; input that does not normalise is left to the form's own validation."""
    result: set[str] = set()
    for value in values:
        try:
            result.add(normalise(value))
        except InvalidValueError:
            continue
    return result


# At most this many people are read from the companies named, so a fleet account with thousands
# of drivers costs the same as a small one.
_MAX_AT_ACCOUNTS = 2_000
_MAX_CANDIDATES = 200


def person_facts_from_input(data: Mapping[str, Any], exclude_id: int | None = None) -> PersonFacts:
    """Facts of the record being entered: `family_name`, `given_name`, `emails`, `phones`
    (raw, normalised here), `account_ids` and `birthday` (date or ISO string), all optional."""
    birthday = data.get("birthday") or ""
    return PersonFacts(
        id=exclude_id,
        name=name_forms(str(data.get("family_name") or ""), str(data.get("given_name") or "")),
        emails=frozenset(_lenient(data.get("emails") or (), normalise_email)),
        phones=frozenset(_lenient(data.get("phones") or (), normalise_phone)),
        account_ids=frozenset(int(pk) for pk in data.get("account_ids") or ()),
        birthday=birthday if isinstance(birthday, str) else birthday.isoformat(),
    )


def likely_duplicates_of_person(
    data: Mapping[str, Any], *, user: User | None, exclude_id: int | None = None, limit: int = 10
) -> list[DuplicateMatch]:
    """People who are likely the person described by `data`, best first.

    `user` limits the answer to the people they may see (None: everyone, for system jobs).
    Candidates come from index lookups only: the same e-mail, the same phone, or a name word in
    common at one of `account_ids`.
    """
    facts = person_facts_from_input(data, exclude_id)
    candidates: set[int] = set()
    if facts.emails:
        candidates.update(
            EmailAddress.objects.filter(address__in=sorted(facts.emails)).values_list("person_id", flat=True)[
                :_MAX_CANDIDATES
            ]
        )
    if facts.phones:
        candidates.update(
            PhoneNumber.objects.filter(number__in=sorted(facts.phones)).values_list("person_id", flat=True)[
                :_MAX_CANDIDATES
            ]
        )
    if facts.account_ids and facts.name.keys:
        rows = (
            Role.objects.filter(account_id__in=sorted(facts.account_ids))
            .values_list("person_id", "person__family_name", "person__given_name")
            .order_by("person_id")[:_MAX_AT_ACCOUNTS]
        )
        keys = facts.name.keys
        candidates.update(pk for pk, family, given in rows if name_forms(family, given).keys & keys)
    if exclude_id is not None:
        candidates.discard(exclude_id)
    if not candidates:
        return []
    loaded = load_person_facts(candidates)
    scored = [(pk, score_people(facts, other)) for pk, other in loaded.items()]
    likely = {pk: s for pk, s in scored if s.is_likely}
    if not likely:
        return []
    people = Person.objects.filter(pk__in=likely)
    if user is not None:
        people = people.filter(access.visible_q(user))
    found = {p.pk: p for p in people.select_related("owner")}
    matches = [DuplicateMatch(found[pk], s.score, s.reasons) for pk, s in likely.items() if pk in found]
    matches.sort(key=lambda m: (-m.score, m.record.pk))
    return matches[:limit]


def likely_duplicates_of_account(
    data: Mapping[str, Any], *, user: User | None, exclude_id: int | None = None, limit: int = 10
) -> list[DuplicateMatch]:
    """Accounts that are likely the organisation described by `data` (`name`, `website`,
    `registration_number`, `phone`, `parent` or `parent_id`), best first; the same rules as
    for people. A parent and its own branch are not duplicates."""
    parent = data.get("parent")
    parent_id = parent.pk if isinstance(parent, Account) else data.get("parent_id")
    phone = str(data.get("phone") or "")
    phones = _lenient([phone], normalise_phone) if phone else set()
    facts = account_facts_from(
        exclude_id,
        str(data.get("name") or ""),
        str(data.get("registration_number") or ""),
        domain_of(str(data.get("website") or "")),
        next(iter(phones), ""),
        parent_id,
    )
    q = Q()
    if facts.registration:
        raw = str(data.get("registration_number") or "").strip()
        q |= Q(registration_number__in=sorted({raw, facts.registration}))
    if facts.domain:
        q |= Q(domain=facts.domain)
    if facts.phone:
        q |= Q(phone=facts.phone)
    if not q:
        return []
    accounts_found = Account.objects.filter(q)
    if exclude_id is not None:
        accounts_found = accounts_found.exclude(pk=exclude_id)
    ids = list(accounts_found.values_list("pk", flat=True)[:_MAX_CANDIDATES])
    loaded = load_account_facts(ids)
    likely = {
        pk: s
        for pk, other in loaded.items()
        if not is_parent_and_child(facts, other) and (s := score_accounts(facts, other)).is_likely
    }
    if not likely:
        return []
    accounts = Account.objects.filter(pk__in=likely)
    if user is not None:
        accounts = accounts.filter(access.visible_q(user, team_field="team"))
    found = {a.pk: a for a in accounts.select_related("owner")}
    matches = [DuplicateMatch(found[pk], s.score, s.reasons) for pk, s in likely.items() if pk in found]
    matches.sort(key=lambda m: (-m.score, m.record.pk))
    return matches[:limit]
