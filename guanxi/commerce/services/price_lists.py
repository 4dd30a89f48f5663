"""Which price list a customer buys at: assigning it (with history on the customer) and reading it.

Moving a customer to another price list changes what they pay on every later order, so it is a
pricing decision: admins, and sales managers for the customers they may change. Reps may not.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from guanxi.commerce.models import CustomerPriceList, PriceList
from guanxi.commerce.services.common import can_edit_catalogue
from guanxi.core.history import record_change
from guanxi.core.models import ChangeAction
from guanxi.customers.models import Account, Person
from guanxi.staff import access
from guanxi.staff.models import User


def _party_filter(party: Account | Person) -> dict[str, Account | Person]:
    return {"account": party} if isinstance(party, Account) else {"person": party}


def assigned_price_list(party: Account | Person) -> PriceList | None:
    """The list the customer was moved to, or None (orders then use the currency's default list)."""
    row = CustomerPriceList.objects.filter(**_party_filter(party)).select_related("price_list").first()
    return row.price_list if row is not None else None


def price_list_for_buyer(buyer_account: Account | None, buyer_person: Person | None) -> PriceList | None:
    """The active assigned list of an order's buyer (the account when there is one), for order defaults."""
    party: Account | Person | None = buyer_account if buyer_account is not None else buyer_person
    if party is None:
        return None
    price_list = assigned_price_list(party)
    return price_list if price_list is not None and price_list.is_active else None


@transaction.atomic
def assign_price_list(actor: User, party: Account | Person, price_list: PriceList | None, *, reason: str = "") -> bool:
    """Move a customer to `price_list` (None: back to the default list). Returns whether it changed.

    Raises PermissionDenied unless the actor keeps the catalogue and may change the customer,
    ValidationError for an inactive list.
    """
    if not can_edit_catalogue(actor):
        raise PermissionDenied(_("Only an admin or a sales manager may change a customer's price list."))
    model = type(party)
    team_field = "team" if model is Account else None
    locked = (
        model.objects.select_for_update(of=("self",))
        .filter(access.editable_q(actor, team_field=team_field), pk=party.pk)
        .first()
    )
    if locked is None:
        raise PermissionDenied(_("You may not change this record."))
    if price_list is not None and not price_list.is_active:
        raise ValidationError({"price_list": [_("This price list is inactive.")]})
    current = CustomerPriceList.objects.select_for_update().filter(**_party_filter(locked)).first()
    old = current.price_list if current is not None else None
    if (old.pk if old else None) == (price_list.pk if price_list else None):
        return False
    if price_list is None:
        CustomerPriceList.objects.filter(**_party_filter(locked)).delete()
    elif current is None:
        CustomerPriceList.objects.create(**_party_filter(locked), price_list=price_list, assigned_by=actor)
    else:
        current.price_list = price_list
        current.assigned_by = actor
        current.save(update_fields=["price_list", "assigned_by", "assigned_at"])
    record_change(
        locked,
        actor=actor,
        action=ChangeAction.UPDATE,
        changes={"price_list": [str(old) if old else None, str(price_list) if price_list else None]},
        note=reason,
    )
    return True
