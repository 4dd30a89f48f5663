"""Who may see and change which customer records: the one place these rules are written.

- admin: every record.
- sales manager: records owned by members of the teams they manage, records assigned to
  those teams, their own records and the shared pool.
- sales rep: their own records and the shared pool (records with no owner), which they may claim.
- service agent, marketer, analyst: read every record (a service agent must find any caller;
  marketing and analysis work across the base); they change only records they own.

The UI, the API, search, exports and bulk actions all filter through `visible_q`/`editable_q`,
so a rule changed here changes everywhere.
"""

from typing import Any

from django.db.models import Q

from guanxi.staff.models import StaffRole, User

READ_ALL_ROLES = frozenset({StaffRole.SERVICE_AGENT, StaffRole.MARKETER, StaffRole.ANALYST})


def managed_team_ids(user: User) -> list[int]:
    cached: list[int] | None = getattr(user, "_managed_team_ids", None)
    if cached is None:
        cached = list(user.managed_teams.values_list("pk", flat=True))
        user._managed_team_ids = cached  # type: ignore[attr-defined]  # per-request memo on the user object
    return cached


def _team_q(user: User, owner_field: str, team_field: str | None) -> Q:
    team_ids = managed_team_ids(user)
    q = Q(**{f"{owner_field}__team_id__in": team_ids})
    if team_field:
        q |= Q(**{f"{team_field}_id__in": team_ids})
    return q


def visible_branches(user: Any, *, owner_field: str = "owner", team_field: str | None = None) -> list[Q]:
    """The parts of `visible_q` that are OR-ed together; empty when one filter says it all.

    A list page may fetch each part on its own index and merge them: SQLite otherwise sorts
    every visible row (190,000 for a rep on a million people) to show the first 25.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    if user.is_admin or user.role in READ_ALL_ROLES:
        return []
    branches = [Q(**{owner_field: user}), Q(**{f"{owner_field}__isnull": True})]
    if user.role == StaffRole.SALES_MANAGER:
        branches.append(_team_q(user, owner_field, team_field))
    return branches


def visible_q(user: Any, *, owner_field: str = "owner", team_field: str | None = None) -> Q:
    """A filter selecting the records `user` may see."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    q = Q()
    for branch in visible_branches(user, owner_field=owner_field, team_field=team_field):
        q |= branch
    return q


def visible_owner_keys(user: Any) -> list[int] | None:
    """The owners whose records `user` sees, 0 standing for the shared pool; None for every owner.

    The same rule as `visible_q`, for tables that keep sums per owner (the sales board's rollup)
    rather than rows that point at an owner.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    if user.is_admin or user.role in READ_ALL_ROLES:
        return None
    keys = [user.pk, 0]
    if user.role == StaffRole.SALES_MANAGER:
        members = User.objects.filter(team_id__in=managed_team_ids(user)).exclude(pk=user.pk)
        keys.extend(members.values_list("pk", flat=True))
    return keys


def editable_q(user: Any, *, owner_field: str = "owner", team_field: str | None = None) -> Q:
    """A filter selecting the records `user` may change (pool records are claimed, not edited)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    if user.is_admin:
        return Q()
    own = Q(**{owner_field: user})
    if user.role == StaffRole.SALES_MANAGER:
        return own | _team_q(user, owner_field, team_field) | Q(**{f"{owner_field}__isnull": True})
    return own


def can_assign_to(user: Any, new_owner: User | None) -> bool:
    """Admins assign to anyone; managers within their teams; others only to themselves or the pool."""
    if user.is_admin or new_owner is None:
        return True
    if user.role == StaffRole.SALES_MANAGER:
        return new_owner.pk == user.pk or new_owner.team_id in managed_team_ids(user)
    return bool(new_owner.pk == user.pk)


def can_manage_settings(user: Any) -> bool:
    """Tags, custom attribute definitions and teams are configuration: admins only."""
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_admin)


def can_lock(user: Any) -> bool:
    """Who may exempt a customer from the shared pool's reclaim rules."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and (user.is_admin or user.role == StaffRole.SALES_MANAGER)
    )


def can_claim(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and (user.is_admin or user.role in (StaffRole.SALES_REP, StaffRole.SALES_MANAGER))
    )
