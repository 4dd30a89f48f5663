"""Read helpers that apply visibility: every lead list, page, API endpoint and panel starts here."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.http import QueryDict

from guanxi.customers import duplicates
from guanxi.customers.models import Account
from guanxi.leads.models import Lead, LeadSource, LeadStatus
from guanxi.staff import access
from guanxi.staff.models import User

LEAD_ORDERING = ("created_at", "score")

# Mailbox providers: a lead's address there says nothing about the company's web domain.
FREE_MAIL_DOMAINS = frozenset(
    {
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "sohu.com",
        "foxmail.com",
        "yeah.net",
        "139.com",
        "aliyun.com",
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "yahoo.com",
        "icloud.com",
    }
)


def visible_leads(user: User) -> QuerySet[Lead]:
    return Lead.objects.filter(access.visible_q(user, team_field="team"))


def visible_lead_branches(user: User) -> list[Q]:
    """The OR-ed parts of lead visibility, for `keyset_page(branches=...)`."""
    return access.visible_branches(user, team_field="team")


def editable_leads(user: User) -> QuerySet[Lead]:
    return Lead.objects.filter(access.editable_q(user, team_field="team"))


@dataclass
class LeadFilters:
    """Filters shared by the web list and the API, so each means the same in both."""

    q: str = ""
    status: str = ""
    source: str = ""
    owner: str = ""  # a user id, "me" or "pool"
    grade: str = ""

    @classmethod
    def from_query(cls, query: QueryDict | dict[str, Any]) -> "LeadFilters":
        return cls(
            q=str(query.get("q", "") or "").strip()[:200],
            status=str(query.get("status", "") or ""),
            source=str(query.get("source", "") or ""),
            owner=str(query.get("owner", "") or ""),
            grade=str(query.get("grade", "") or ""),
        )

    @property
    def any(self) -> bool:
        return any((self.q, self.status, self.source, self.owner, self.grade))


def _search_q(term: str) -> Q:
    """Each word must match a name, the company, the e-mail or the phone (digits anywhere)."""
    q = Q()
    for word in term.split()[:5]:
        word_q = (
            Q(full_name__icontains=word)
            | Q(company_name__icontains=word)
            | Q(email__icontains=word)
            | Q(family_name__icontains=word)
            | Q(given_name__icontains=word)
        )
        digits = "".join(c for c in word if c.isdigit())
        if len(digits) >= 3:
            word_q |= Q(phone__contains=digits)
        q &= word_q
    return q


def filter_leads(queryset: QuerySet[Lead], filters: LeadFilters, user: User) -> QuerySet[Lead]:
    if filters.q:
        queryset = queryset.filter(_search_q(filters.q))
    if filters.status in LeadStatus.values:
        queryset = queryset.filter(status=filters.status)
    elif filters.status == "open":
        queryset = queryset.filter(status__in=[LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED])
    if filters.source in LeadSource.values:
        queryset = queryset.filter(source=filters.source)
    if filters.owner == "me":
        queryset = queryset.filter(owner=user)
    elif filters.owner == "pool":
        queryset = queryset.filter(owner__isnull=True)
    elif filters.owner.isdigit():
        queryset = queryset.filter(owner_id=int(filters.owner))
    if filters.grade in ("A", "B", "C", "D"):
        queryset = queryset.filter(grade=filters.grade)
    return queryset


def lead_list_rows(queryset: QuerySet[Lead]) -> QuerySet[Lead]:
    """What a list row shows, in one query whatever the page size."""
    return queryset.select_related("owner")


def company_domain(email: str) -> str:
    domain = email.rpartition("@")[2].lower()
    return "" if not domain or domain in FREE_MAIL_DOMAINS else domain


def account_candidates(user: User, lead: Lead, limit: int = 10) -> list[duplicates.DuplicateMatch]:
    """Accounts the lead's company may already be: the duplicate check's scoring (web domain
    from a company e-mail address) plus visible accounts of the very same name."""
    domain = company_domain(lead.email)
    matches = duplicates.likely_duplicates_of_account(
        {"name": lead.company_name, "website": domain}, user=user, limit=limit
    )
    # A company address shared with an account's website is strong evidence for a lead even when
    # the names are in two scripts (蓝海科技 / Lanhai Technology), which the general check discounts.
    extra = [("name", Q(name__iexact=lead.company_name), duplicates.NAME_SAME_POINTS)] if lead.company_name else []
    if domain:
        extra.append(("domain", Q(domain=domain), duplicates.DOMAIN_POINTS))
    visible = Account.objects.filter(access.visible_q(user, team_field="team"))
    for reason, condition, points in extra:
        seen = {m.record.pk for m in matches}
        found = visible.filter(condition).exclude(pk__in=seen).select_related("owner").order_by("pk")[:limit]
        matches += [duplicates.DuplicateMatch(a, points, (reason,)) for a in found]
    matches.sort(key=lambda m: (-m.score, m.record.pk))
    return matches[:limit]


def person_candidates(user: User, lead: Lead, limit: int = 10) -> list[duplicates.DuplicateMatch]:
    """People the lead may already be, by the same rules the contact form uses."""
    return duplicates.likely_duplicates_of_person(
        {
            "family_name": lead.family_name,
            "given_name": lead.given_name,
            "emails": [lead.email] if lead.email else [],
            "phones": [lead.phone] if lead.phone else [],
        },
        user=user,
        limit=limit,
    )
