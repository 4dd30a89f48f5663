"""Who may see, run and configure profitability, written once.

- The overview shows the whole base in aggregate, so it is for the roles who plan with it:
  admins, analysts, marketers and sales managers (as the analytics dashboard).
- The review list shows single customers, each filtered by `staff.access`: every active user
  may open it and sees only the customers they may see (a rep: own and the pool).
- Runs read every order and follow-up: admins, analysts and sales managers start them.
- Costs and acquisition spending are configuration: admins only.
- Actions on a customer served at a loss (each service re-checks the customer itself):
  moving to another price list and changing the service level are a manager's call (admins,
  and sales managers for their teams' and the pool's customers); handing back to the pool is
  open to whoever may change the customer, so a rep may give up their own loss-makers.
"""

from typing import Any

from guanxi.staff.models import StaffRole

VIEW_ROLES = frozenset({StaffRole.ANALYST, StaffRole.MARKETER, StaffRole.SALES_MANAGER})
RUN_ROLES = frozenset({StaffRole.ANALYST, StaffRole.SALES_MANAGER})
PRICING_ROLES = frozenset({StaffRole.SALES_MANAGER})


def _active(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def can_view_overview(user: Any) -> bool:
    return _active(user) and bool(user.is_admin or user.role in VIEW_ROLES)


def can_view_review(user: Any) -> bool:
    return _active(user)


def can_run(user: Any) -> bool:
    return _active(user) and bool(user.is_admin or user.role in RUN_ROLES)


def can_edit_settings(user: Any) -> bool:
    return _active(user) and bool(user.is_admin)


def can_reprice(user: Any) -> bool:
    """Price list and service level moves; `customers`/`commerce` services check the record too."""
    return _active(user) and bool(user.is_admin or user.role in PRICING_ROLES)
