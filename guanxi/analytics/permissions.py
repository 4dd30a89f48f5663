"""Who may see and run analytics, written once.

The dashboard shows the whole customer base in aggregate (no individual records beyond the
products in the top rules), so it is open to the roles who plan with it: admins, analysts,
marketers and sales managers. Sales reps and service agents work record by record and see a
customer's scores on the record page instead. Runs cost minutes of database time: admins and
analysts start them. The lifecycle rules and the engagement definition change every record's
scores: admins only. The account-health list is a work list for owners: every member of staff
sees it, limited to the customers they may see.
"""

from typing import Any

from guanxi.staff.models import StaffRole

VIEW_ROLES = frozenset({StaffRole.ANALYST, StaffRole.MARKETER, StaffRole.SALES_MANAGER})
RUN_ROLES = frozenset({StaffRole.ANALYST})


def _active(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def can_view(user: Any) -> bool:
    return _active(user) and bool(user.is_admin or user.role in VIEW_ROLES)


def can_run(user: Any) -> bool:
    return _active(user) and bool(user.is_admin or user.role in RUN_ROLES)


def can_edit_rules(user: Any) -> bool:
    return _active(user) and bool(user.is_admin)


def can_view_health(user: Any) -> bool:
    return _active(user)
