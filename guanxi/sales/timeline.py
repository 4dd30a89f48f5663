"""Deals on a customer's timeline: each opportunity created, won or lost, and its stage moves.

Whoever may see the opportunity (`sales.queries.visible_opportunities`) sees its entries.
Creation, closing and moves are three time columns, so three small queries per page; a move
into a won or lost stage is left to the "won"/"lost" entry so a close is not shown twice.
"""

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.core.timeline import Batch, Entry, Window, register_source
from guanxi.customers.models import Account, Person
from guanxi.sales import queries
from guanxi.sales.models import StageChange, StageKind
from guanxi.staff.models import User

KINDS = (("opportunity", gettext_lazy("Opportunities")), ("stage", gettext_lazy("Stage changes")))


def _field(record: Account | Person) -> str:
    return "account_id" if isinstance(record, Account) else "person_id"


def source(request: HttpRequest, record: object, window: Window) -> Batch:
    user = request.user
    if not isinstance(user, User) or not isinstance(record, Account | Person):
        return Batch([], False)
    deals = queries.visible_opportunities(user).filter(**{_field(record): record.pk})
    entries: list[Entry] = []
    more = False
    if window.wants("opportunity"):
        created = list(window.bound(deals, "created_at").select_related("owner", "stage")[: window.fetch])
        closed = list(
            window.bound(
                deals.exclude(status=StageKind.OPEN).filter(closed_at__isnull=False), "closed_at"
            ).select_related("owner")[: window.fetch]
        )
        more = len(created) >= window.fetch or len(closed) >= window.fetch
        for deal in created:
            entries.append(
                Entry(
                    at=deal.created_at,
                    kind="opportunity",
                    key=f"opportunity:{deal.pk}",
                    title=_("Opportunity created: %(name)s") % {"name": deal.name},
                    detail=f"{deal.amount} {deal.currency}",
                    url=reverse("sales:opportunity-detail", args=[deal.pk]),
                    who=str(deal.owner) if deal.owner else "",
                )
            )
        for deal in closed:
            won = deal.status == StageKind.WON
            title = _("Opportunity won: %(name)s") if won else _("Opportunity lost: %(name)s")
            entries.append(
                Entry(
                    at=deal.closed_at or deal.created_at,
                    kind="opportunity",
                    key=f"opportunity-closed:{deal.pk}",
                    title=title % {"name": deal.name},
                    detail=f"{deal.amount} {deal.currency}"
                    + ("" if won or not deal.lost_reason else f" · {deal.get_lost_reason_display()}"),
                    url=reverse("sales:opportunity-detail", args=[deal.pk]),
                    who=str(deal.owner) if deal.owner else "",
                    tone="good" if won else "warn",
                )
            )
    if window.wants("stage"):
        moves = list(
            window.bound(
                StageChange.objects.filter(opportunity__in=deals, from_stage__isnull=False).exclude(
                    to_stage__kind__in=(StageKind.WON, StageKind.LOST)
                ),
                "changed_at",
            ).select_related("opportunity", "from_stage", "to_stage", "changed_by")[: window.fetch]
        )
        more = more or len(moves) >= window.fetch
        for move in moves:
            entries.append(
                Entry(
                    at=move.changed_at,
                    kind="stage",
                    key=f"stage:{move.pk}",
                    title=_("%(name)s moved to “%(stage)s”")
                    % {"name": move.opportunity.name, "stage": move.to_stage.name},
                    detail=_("from “%(stage)s”") % {"stage": move.from_stage.name if move.from_stage else "—"},
                    url=reverse("sales:opportunity-detail", args=[move.opportunity_id]),
                    who=str(move.changed_by) if move.changed_by else "",
                )
            )
    return Batch(entries, more)


def register() -> None:
    for record_type in ("customers.person", "customers.account"):
        register_source(record_type, "sales.opportunities", source, kinds=KINDS)
