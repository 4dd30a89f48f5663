"""Sales pages through Django's test client."""

import datetime
import json
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from guanxi.customers.models import AccountKind
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.customers.tests.test_api import branch_keys
from guanxi.sales import services
from guanxi.sales.models import Opportunity, Pipeline, StageKind
from guanxi.sales.tests.factories import OpportunityFactory
from guanxi.staff.models import User


def _login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def _names(response: object) -> list[str]:
    html = response.content.decode()  # type: ignore[attr-defined]
    return re.findall(r'<a href="/sales/opportunities/\d+/">([^<]+)</a>', html)


@pytest.mark.parametrize(
    "name", ["sales:opportunity-list", "sales:opportunity-create", "sales:board-default", "sales:forecast"]
)
def test_pages_require_login(client: Client, db: None, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_settings_pages_are_admin_only(client: Client, rep: User, admin_user: User) -> None:
    _login(client, rep)
    assert client.get(reverse("sales:pipeline-list")).status_code == 403
    assert client.post(reverse("sales:pipeline-create"), {"name": "X"}).status_code == 403
    _login(client, admin_user)
    assert client.get(reverse("sales:pipeline-list")).status_code == 200
    response = client.post(reverse("sales:pipeline-create"), {"name": "Projects", "is_active": "on"})
    pipeline = Pipeline.objects.get(name="Projects")
    assert response["Location"] == reverse("sales:pipeline-edit", args=[pipeline.pk])
    page = client.get(response["Location"])
    assert "Qualification" in page.content.decode()
    stage = pipeline.stages.get(name="Proposal")
    client.post(
        reverse("sales:stage-edit", args=[stage.pk]),
        {f"s{stage.pk}-name": "Offer", f"s{stage.pk}-probability": "60", f"s{stage.pk}-kind": "open"},
    )
    stage.refresh_from_db()
    assert (stage.name, stage.probability) == ("Offer", 60)
    client.post(reverse("sales:stage-shift", args=[stage.pk]), {"direction": "up"})
    assert list(pipeline.stages.order_by("position").values_list("name", flat=True))[:3] == [
        "Qualification",
        "Offer",
        "Needs analysis",
    ]
    client.post(
        reverse("sales:stage-create", args=[pipeline.pk]),
        {"new-name": "Demo", "new-probability": "30", "new-kind": "open"},
    )
    assert pipeline.stages.filter(name="Demo", probability=30).exists()


def test_list_shows_only_visible_deals_with_filters(client: Client, rep: User, outside_rep: User) -> None:
    OpportunityFactory.create(actor=rep, name="Mine A", amount=Decimal("5"))
    OpportunityFactory.create(
        actor=rep, name="Mine B", amount=Decimal("50"), expected_close_date=datetime.date(2026, 5, 1)
    )
    OpportunityFactory.create(actor=outside_rep, name="Hidden")
    _login(client, rep)
    url = reverse("sales:opportunity-list")
    assert sorted(_names(client.get(url))) == ["Mine A", "Mine B"]
    assert _names(client.get(url, {"ordering": "-amount"})) == ["Mine B", "Mine A"]
    assert _names(client.get(url, {"close_from": "2026-04-01"})) == ["Mine B"]
    assert _names(client.get(url, {"q": "mine a"})) == ["Mine A"]
    empty = client.get(url, {"q": "nothing"})
    assert "No opportunities match these filters." in empty.content.decode()


@pytest.mark.parametrize("rows", [3, 30])
def test_list_query_count_is_fixed(client: Client, rep: User, rows: int, django_assert_num_queries: object) -> None:
    account = AccountFactory.create(owner=rep)
    for i in range(rows):
        OpportunityFactory.create(actor=rep, name=f"D{i}", account=account)
    _login(client, rep)
    url = reverse("sales:opportunity-list")
    client.get(url)
    with django_assert_num_queries(9 + branch_keys(2)):  # type: ignore[operator]
        response = client.get(url)
    assert response.status_code == 200


def test_bulk_assign(client: Client, manager: User, rep: User, other_rep: User) -> None:
    deal = OpportunityFactory.create(actor=rep)
    _login(client, manager)
    response = client.post(reverse("sales:opportunity-bulk"), {"ids": [deal.pk], "owner": other_rep.pk})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.owner == other_rep


def test_create_and_edit(client: Client, rep: User) -> None:
    account = AccountFactory.create(owner=rep)
    _login(client, rep)
    response = client.post(
        reverse("sales:opportunity-create"),
        {
            "name": "Big deal",
            "account": f"{account.pk} · {account.name}",
            "amount": "1200",
            "currency": "cny",
            "owner": rep.pk,
        },
    )
    deal = Opportunity.objects.get(name="Big deal")
    assert response["Location"] == reverse("sales:opportunity-detail", args=[deal.pk])
    assert (deal.account, deal.currency, deal.probability) == (account, "CNY", 10)
    bad = client.post(reverse("sales:opportunity-create"), {"name": "No customer", "amount": "1", "currency": "CNY"})
    assert bad.status_code == 400
    assert "Choose the account or the person" in bad.content.decode()
    client.post(
        reverse("sales:opportunity-edit", args=[deal.pk]),
        {"name": "Bigger deal", "account": str(account.pk), "amount": "1500", "currency": "CNY", "owner": rep.pk},
    )
    deal.refresh_from_db()
    assert (deal.name, deal.amount) == ("Bigger deal", Decimal("1500.00"))


def test_detail_is_404_for_invisible_and_read_only_for_viewers(
    client: Client, rep: User, outside_rep: User, admin_user: User
) -> None:
    deal = OpportunityFactory.create(actor=outside_rep)
    _login(client, rep)
    assert client.get(reverse("sales:opportunity-detail", args=[deal.pk])).status_code == 404
    assert client.post(reverse("sales:opportunity-move", args=[deal.pk]), {"stage": deal.stage_id}).status_code == 404
    _login(client, admin_user)
    page = client.get(reverse("sales:opportunity-detail", args=[deal.pk])).content.decode()
    assert "Stage history" in page
    assert reverse("sales:opportunity-edit", args=[deal.pk]) in page


def test_detail_adds_contacts_lines_competitors(client: Client, rep: User) -> None:
    deal = OpportunityFactory.create(actor=rep)
    person = PersonFactory.create(owner=rep, family_name="王", given_name="芳")
    rival = AccountFactory.create(name="Rival", kind=AccountKind.COMPETITOR)
    _login(client, rep)
    client.post(reverse("sales:contact-add", args=[deal.pk]), {"person": f"{person.pk} · 王芳", "role": "buyer"})
    client.post(
        reverse("sales:line-add", args=[deal.pk]),
        {"description": "Setup", "quantity": "2", "unit_price": "100", "discount_percent": "0"},
    )
    client.post(reverse("sales:competitor-add", args=[deal.pk]), {"competitor": rival.pk, "offer": "Cheaper"})
    page = client.get(reverse("sales:opportunity-detail", args=[deal.pk])).content.decode()
    assert "王芳" in page
    assert "Setup" in page
    assert "Rival" in page
    deal.refresh_from_db()
    assert deal.amount == Decimal("200.00")


def test_detail_edits_contact_roles_lines_and_competitor_offers(client: Client, rep: User, other_rep: User) -> None:
    person = PersonFactory.create(owner=rep)
    deal = OpportunityFactory.create(
        actor=rep,
        contacts=[{"person": person, "role": "buyer"}],
        lines=[{"description": "Setup", "quantity": Decimal("2"), "unit_price": Decimal("100")}],
    )
    rival = AccountFactory.create(name="Rival", kind=AccountKind.COMPETITOR)
    row = services.add_competitor(rep, deal, rival, offer="Cheaper", amount=Decimal("150"))
    contact = deal.contacts.get()
    line = deal.lines.get()
    _login(client, other_rep)
    assert client.post(reverse("sales:contact-edit", args=[contact.pk]), {"role": "user"}).status_code == 404
    _login(client, rep)
    page = client.get(reverse("sales:opportunity-detail", args=[deal.pk])).content.decode()
    assert reverse("sales:line-edit", args=[line.pk]) in page
    client.post(reverse("sales:contact-edit", args=[contact.pk]), {"role": "user", "is_primary": "on"})
    client.post(
        reverse("sales:line-edit", args=[line.pk]), {"quantity": "3", "unit_price": "90", "discount_percent": "0"}
    )
    client.post(reverse("sales:competitor-edit", args=[row.pk]), {"offer": "Free setup", "amount": "120"})
    contact.refresh_from_db()
    line.refresh_from_db()
    row.refresh_from_db()
    deal.refresh_from_db()
    assert (contact.role, contact.is_primary) == ("user", True)
    assert (line.quantity, line.unit_price, line.line_total, line.description) == (
        Decimal("3.000"),
        Decimal("90.00"),
        Decimal("270.00"),
        "Setup",
    )
    assert deal.amount == Decimal("270.00")
    assert (row.offer, row.amount) == ("Free setup", Decimal("120.00"))
    bad = client.post(reverse("sales:line-edit", args=[line.pk]), {"quantity": "-1"}, follow=True)
    line.refresh_from_db()
    assert line.quantity == Decimal("3.000")
    assert "Quantity" in bad.content.decode()


def test_move_form_and_json(client: Client, rep: User) -> None:
    deal = OpportunityFactory.create(actor=rep)
    lost = deal.pipeline.stages.get(kind=StageKind.LOST)
    won = deal.pipeline.stages.get(kind=StageKind.WON)
    _login(client, rep)
    url = reverse("sales:opportunity-move", args=[deal.pk])
    response = client.post(url, {"stage": lost.pk}, headers={"accept": "application/json"})
    assert response.status_code == 400
    assert "lost_reason" in json.loads(response.content)["errors"]
    response = client.post(url, {"stage": won.pk}, headers={"accept": "application/json"})
    assert json.loads(response.content) == {"id": deal.pk, "stage": won.pk, "status": "won"}
    board = reverse("sales:board", args=[deal.pipeline_id])
    response = client.post(url, {"stage": lost.pk, "lost_reason": "price", "next": board})
    assert response["Location"] == board
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason) == ("lost", "price")


@pytest.mark.parametrize("rows", [3, 20])
def test_board_columns_and_query_count(client: Client, rep: User, rows: int, django_assert_num_queries: object) -> None:
    account = AccountFactory.create(owner=rep)
    deals = [OpportunityFactory.create(actor=rep, account=account, amount=Decimal("100")) for _ in range(rows)]
    services.move_opportunity(rep, deals[0], deals[0].pipeline.stages.get(kind=StageKind.WON))
    _login(client, rep)
    url = reverse("sales:board", args=[deals[0].pipeline_id])
    client.get(url)
    # Fixed whatever the number of deals: one GROUP BY for the totals, one query per non-empty
    # column (2 here) for its cards, plus session, user, pipeline, stages and the filter choices.
    with django_assert_num_queries(11):  # type: ignore[operator]
        response = client.get(url)
    html = response.content.decode()
    assert f'data-count="{rows - 1}"' in html
    assert 'data-count="1"' in html
    assert html.count('class="board-card"') == rows
    assert client.get(reverse("sales:board-default"))["Location"] == url


def test_board_more_link_when_a_column_is_full(client: Client, rep: User, monkeypatch: pytest.MonkeyPatch) -> None:
    from guanxi.sales import queries

    monkeypatch.setattr(queries, "BOARD_CARDS_PER_COLUMN", 2)
    monkeypatch.setattr(queries.board_columns, "__defaults__", None)
    monkeypatch.setattr(queries.board_columns, "__kwdefaults__", {"cards_per_column": 2})
    deals = [OpportunityFactory.create(actor=rep) for _ in range(3)]
    _login(client, rep)
    html = client.get(reverse("sales:board", args=[deals[0].pipeline_id])).content.decode()
    assert html.count('class="board-card"') == 2
    assert "1 more" in html


def test_forecast_page(client: Client, rep: User) -> None:
    today = datetime.date.today()
    deal = OpportunityFactory.create(actor=rep, amount=Decimal("1000"), expected_close_date=today, source="referral")
    OpportunityFactory.create(actor=rep, amount=Decimal("400"), expected_close_date=today)
    services.move_opportunity(rep, deal, deal.pipeline.stages.get(kind=StageKind.WON))
    _login(client, rep)
    response = client.get(reverse("sales:forecast"))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<strong id="stat-win-rate">100%</strong>' in html
    assert "<svg" in html
    assert "Referral" in html


def test_customer_pages_show_their_opportunities(client: Client, rep: User, outside_rep: User) -> None:
    account = AccountFactory.create(owner=rep, name="Acme")
    OpportunityFactory.create(actor=rep, account=account, name="Visible deal")
    OpportunityFactory.create(owner=outside_rep, account=account, name="Hidden deal")
    _login(client, rep)
    html = client.get(reverse("customers:account-detail", args=[account.pk])).content.decode()
    assert "Visible deal" in html
    assert "Hidden deal" not in html
    assert f"{reverse('sales:opportunity-create')}?account={account.pk}" in html


def test_quote_pages(client: Client, rep: User, other_rep: User) -> None:
    deal = OpportunityFactory.create(actor=rep, lines=[{"description": "Kit <b>", "unit_price": Decimal("99")}])
    _login(client, rep)
    response = client.post(reverse("sales:quote-from-opportunity", args=[deal.pk]))
    quote = deal.quotes.get()
    assert response["Location"] == reverse("sales:quote-detail", args=[quote.pk])
    client.post(reverse("sales:quote-detail", args=[quote.pk]), {"tax_rate": "10", "note": ""})
    printable = client.get(reverse("sales:quote-print", args=[quote.pk])).content.decode()
    assert "Kit &lt;b&gt;" in printable
    assert "CNY 108.90" in printable
    assert "quote-print" in printable
    client.post(reverse("sales:quote-action", args=[quote.pk, "accept"]))
    quote.refresh_from_db()
    assert quote.status == "accepted"
    assert quote.order is not None
    assert reverse("sales:quote-detail", args=[quote.pk]) in client.get(reverse("sales:quote-list")).content.decode()
    _login(client, other_rep)
    assert client.get(reverse("sales:quote-detail", args=[quote.pk])).status_code == 404
