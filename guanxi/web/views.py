"""The dashboard. Every figure is a capped count through the visibility-applying queries, so the
page costs the same on a hundred records or a million."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from guanxi.core.models import ChangeRecord
from guanxi.core.pagination import capped_count
from guanxi.customers import queries
from guanxi.customers.models import Account, LifecycleStage, Person
from guanxi.staff.models import User


def _figures(queryset: QuerySet[Any], user: User) -> dict[str, Any]:
    mine, mine_more = capped_count(queryset.filter(owner=user))
    pool, pool_more = capped_count(queryset.filter(owner__isnull=True))
    total, total_more = capped_count(queryset)
    stages = []
    for value, label in LifecycleStage.choices:
        count, more = capped_count(queryset.filter(lifecycle_stage=value))
        stages.append({"value": value, "label": label, "count": count, "more": more})
    return {
        "total": total,
        "total_more": total_more,
        "mine": mine,
        "mine_more": mine_more,
        "pool": pool,
        "pool_more": pool_more,
        "stages": stages,
    }


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    recent = (
        ChangeRecord.objects.filter(actor=user, content_type__model__in=["account", "person"])
        .select_related("content_type")
        .order_by("-at", "-id")[:10]
    )
    context = {
        "people": _figures(queries.visible_people(user), user),
        "accounts": _figures(queries.visible_accounts(user), user),
        "recent": [
            {
                "record": record,
                "is_account": record.content_type.model == Account._meta.model_name,
                "is_person": record.content_type.model == Person._meta.model_name,
                "label": record.note or ", ".join(sorted(record.changes)[:4]),
            }
            for record in recent
        ],
    }
    return render(request, "web/home.html", context)
