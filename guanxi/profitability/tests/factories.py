"""Test data for profitability, written through the services (settings, spending, runs).

`loss_scenario` builds a small book whose every figure is known to the cent; the service, view
and API tests share it.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from guanxi.activities.models import ActivityKind
from guanxi.activities.tests.factories import ActivityFactory
from guanxi.commerce.tests.factories import OrderFactory, ProductFactory
from guanxi.customers import services as customer_services
from guanxi.customers.models import Account, Person, RoleKind
from guanxi.customers.tests.factories import AccountFactory, PersonFactory, _system_admin
from guanxi.profitability import services
from guanxi.profitability.models import ProfitabilityRun
from guanxi.staff.models import User

D = Decimal


def set_costs(
    actor: User | None = None,
    *,
    call: str = "10.00",
    visit: str = "100.00",
    ticket: str = "30.00",
    currency: str = "CNY",
) -> None:
    services.update_settings(
        actor or _system_admin(),
        currency=currency,
        ticket_cost=ticket,
        activity_costs={ActivityKind.CALL: call, ActivityKind.VISIT: visit},
    )


def spend(source: str, month: dt.date, amount: str, actor: User | None = None) -> None:
    services.save_acquisition_costs(actor or _system_admin(), {(source, month): amount})


def run(actor: User | None = None) -> ProfitabilityRun:
    return services.run_profitability(actor)


@dataclass
class Scenario:
    account: Account
    """Owned by the rep; 200.00 revenue, 50.00 discounts, 120.00 follow-ups: profit 30.00."""
    person: Person
    """Owned by the rep; 100.00 revenue, 200.00 follow-ups: profit -100.00."""
    contact: Person
    """A contact at the account with nothing of their own: not a customer row."""
    pool_person: Person
    """In the pool; one call: profit -10.00."""
    other_person: Person
    """Owned by another rep; one visit: profit -100.00."""


def loss_scenario(rep: User, other_rep: User) -> Scenario:
    admin = _system_admin()
    set_costs(admin)
    product = ProductFactory.create(unit_price=D("100.00"))
    account = AccountFactory.create(name="Acme Trading", owner=rep, source="trade_show")
    contact = PersonFactory.create(family_name="Zhang", given_name="Wei", owner=rep)
    customer_services.add_role(admin, contact, account, RoleKind.PURCHASER)
    person = PersonFactory.create(family_name="Li", given_name="Na", owner=rep, source="web")
    pool_person = PersonFactory.create(family_name="Wang", given_name="Fang")
    other_person = PersonFactory.create(family_name="Chen", given_name="Jie", owner=other_rep)
    # 2 × 100.00 less a 20.00 line discount and a 30.00 order discount: revenue 200, discounts 50.
    OrderFactory.create(
        buyer_account=account,
        buyer_person=contact,
        lines=[{"product": product, "quantity": D("2"), "discount_amount": D("20.00")}],
        discount_amount=D("30.00"),
        tax_amount=D("13.00"),
    )
    OrderFactory.create(buyer_account=account, lines=[{"product": product, "quantity": D("5")}], status="cancelled")
    OrderFactory.create(buyer_account=account, lines=[{"product": product, "quantity": D("1")}], status="returned")
    OrderFactory.create(
        buyer_account=account, lines=[{"product": product, "quantity": D("1"), "unit_price": D("70")}], currency="USD"
    )
    OrderFactory.create(buyer_person=person, lines=[{"product": product, "quantity": D("1")}])
    ActivityFactory.create(account=account, kind=ActivityKind.CALL)
    ActivityFactory.create(account=account, person=contact, kind=ActivityKind.CALL)
    ActivityFactory.create(account=account, kind=ActivityKind.VISIT)
    ActivityFactory.create(account=account, kind=ActivityKind.NOTE)
    ActivityFactory.create(person=person, kind=ActivityKind.VISIT)
    ActivityFactory.create(person=person, kind=ActivityKind.VISIT)
    ActivityFactory.create(person=pool_person, kind=ActivityKind.CALL)
    ActivityFactory.create(person=other_person, kind=ActivityKind.VISIT)
    Account.objects.filter(pk=account.pk).update(predicted_clv=D("1200.00"))
    Person.objects.filter(pk=person.pk).update(predicted_clv=D("50.00"))
    month = timezone.localdate().replace(day=1)
    spend("trade_show", month, "600.00", admin)
    spend("web_form", month, "90.00", admin)
    return Scenario(account, person, contact, pool_person, other_person)
