"""Lead pages: list with pinned query counts, detail with score reasons and panels, forms,
bulk actions, conversion, settings pages (admin only) and the public web form."""

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from guanxi.core import panels
from guanxi.customers.models import Account, Person
from guanxi.leads.models import AssignmentRule, Lead, ScoringRule, WebForm
from guanxi.leads.tests.factories import LeadFactory, ScoringRuleFactory, WebFormFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limit() -> None:
    cache.clear()


# ---------------------------------------------------------------------------------------------
# List


def test_list_shows_only_visible_leads(client: Client, rep: User, other_rep: User) -> None:
    LeadFactory.create(actor=rep, owner=rep, family_name="Mine")
    LeadFactory.create(actor=rep, owner=None, family_name="Pooled")
    LeadFactory.create(actor=other_rep, owner=other_rep, family_name="Theirs")
    client.force_login(rep)
    html = client.get(reverse("leads:lead-list")).content.decode()
    assert "Sam Mine" in html
    assert "Sam Pooled" in html
    assert "Theirs" not in html


def test_list_filters_search_and_sort(client: Client, admin_user: User, rep: User) -> None:
    ScoringRuleFactory.create(label="Retail", kind="field_equals", field="industry", value="retail", points=40)
    LeadFactory.create(family_name="Alpha", industry="Retail", source="trade_show", phone="13812345678")
    LeadFactory.create(family_name="Beta", source="cold_call", email="beta@acme.example.com")
    client.force_login(admin_user)
    url = reverse("leads:lead-list")
    assert "Beta" not in client.get(url, {"source": "trade_show"}).content.decode()
    assert "Alpha" not in client.get(url, {"q": "acme"}).content.decode()
    assert "Beta" not in client.get(url, {"q": "5678"}).content.decode()
    html = client.get(url, {"ordering": "-score"}).content.decode()
    assert html.index("Sam Alpha") < html.index("Sam Beta")
    assert "No leads match these filters." in client.get(url, {"grade": "A"}).content.decode()


@pytest.mark.parametrize("count", [3, 30])
def test_list_query_count_does_not_grow_with_rows(
    client: Client, rep: User, count: int, django_assert_num_queries: Any
) -> None:
    for _ in range(count):
        LeadFactory.create(actor=rep, owner=rep)
    client.force_login(rep)
    # session, user, assignable users, filterable users' teams, page (2 branches on SQLite, 1 on
    # PostgreSQL, +1 row fetch), count.
    from django.db import connection

    expected = 7 if connection.vendor == "sqlite" else 5
    with django_assert_num_queries(expected):
        response = client.get(reverse("leads:lead-list"))
    assert response.status_code == 200


def test_list_pages_by_keyset(client: Client, admin_user: User) -> None:
    for i in range(30):
        LeadFactory.create(family_name=f"P{i:02d}")
    client.force_login(admin_user)
    first = client.get(reverse("leads:lead-list"))
    assert first.context["page"].next_cursor
    second = client.get(reverse("leads:lead-list"), {"cursor": first.context["page"].next_cursor, "pos": 26})
    names = {lead.pk for lead in first.context["items"]} | {lead.pk for lead in second.context["items"]}
    assert len(names) == 30


def test_bulk_status_and_assign(client: Client, manager: User, rep: User) -> None:
    leads = [LeadFactory.create(actor=rep, owner=rep) for _ in range(3)]
    client.force_login(manager)
    ids = [x.pk for x in leads]
    response = client.post(reverse("leads:lead-bulk"), {"ids": ids, "action": "status", "status": "working"})
    assert response.status_code == 302
    assert set(Lead.objects.values_list("status", flat=True)) == {"working"}
    client.post(reverse("leads:lead-bulk"), {"ids": ids[:1], "action": "assign", "owner": manager.pk})
    assert Lead.objects.get(pk=ids[0]).owner == manager


# ---------------------------------------------------------------------------------------------
# Record pages


def test_detail_shows_score_reasons_grade_and_panels(client: Client, rep: User) -> None:
    ScoringRuleFactory.create(label="Has a phone", kind="field_filled", field="phone", points=25)
    lead = LeadFactory.create(actor=rep, owner=rep, phone="13812345678", family_name="<script>")
    client.force_login(rep)
    html = client.get(reverse("leads:lead-detail", args=[lead.pk])).content.decode()
    assert '<span class="lead-score">25</span>' in html
    assert "Has a phone: <strong>+25</strong>" in html
    assert "suggested by the score" in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_detail_of_invisible_lead_is_404(client: Client, rep: User, other_rep: User) -> None:
    lead = LeadFactory.create(actor=other_rep, owner=other_rep)
    client.force_login(rep)
    assert client.get(reverse("leads:lead-detail", args=[lead.pk])).status_code == 404
    assert client.get(reverse("leads:lead-edit", args=[lead.pk])).status_code == 404


def test_detail_query_count(
    client: Client, rep: User, django_assert_num_queries: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead = LeadFactory.create(actor=rep, owner=rep)
    client.force_login(rep)
    # Other apps' panels cost what they cost (their own tests pin them); this pins the page's own:
    # session, user, lead, may edit?, grade bands, history.
    monkeypatch.setitem(panels._panels, "leads.lead", {})
    with django_assert_num_queries(6):
        client.get(reverse("leads:lead-detail", args=[lead.pk]))


def test_create_and_edit_with_manual_grade(client: Client, rep: User) -> None:
    client.force_login(rep)
    response = client.post(
        reverse("leads:lead-create"),
        {"family_name": "李", "given_name": "雷", "email": "LI@Example.com", "source": "cold_call", "owner": rep.pk},
    )
    lead = Lead.objects.get()
    assert response.status_code == 302
    assert (lead.email, lead.owner) == ("li@example.com", rep)
    response = client.post(
        reverse("leads:lead-edit", args=[lead.pk]),
        {
            "family_name": "李",
            "given_name": "雷",
            "email": "li@example.com",
            "source": "cold_call",
            "owner": rep.pk,
            "grade": "A",
        },
    )
    lead.refresh_from_db()
    assert (lead.grade, lead.grade_is_manual) == ("A", True)
    html = client.get(reverse("leads:lead-detail", args=[lead.pk])).content.decode()
    assert "set by hand; the score suggests D" in html


def test_create_shows_service_errors_on_fields(client: Client, rep: User) -> None:
    client.force_login(rep)
    response = client.post(reverse("leads:lead-create"), {"family_name": "Li", "email": "nope", "source": "other"})
    assert response.status_code == 400
    assert "nope is not a valid e-mail address" in response.content.decode()


def test_status_change_needs_reason_for_disqualified(client: Client, rep: User) -> None:
    lead = LeadFactory.create(actor=rep, owner=rep)
    client.force_login(rep)
    client.post(reverse("leads:lead-status", args=[lead.pk]), {"status": "disqualified"})
    lead.refresh_from_db()
    assert lead.status == "new"
    client.post(reverse("leads:lead-status", args=[lead.pk]), {"status": "disqualified", "reason": "no budget"})
    lead.refresh_from_db()
    assert (lead.status, lead.disqualified_reason) == ("disqualified", "no budget")


def test_convert_page_offers_candidates_and_converts(client: Client, rep: User) -> None:
    existing = Account.objects.create(name="蓝海科技有限公司", owner=rep)
    lead = LeadFactory.create(
        actor=rep, owner=rep, company_name="蓝海科技有限公司", family_name="陈", given_name="静", status="qualified"
    )
    client.force_login(rep)
    page = client.get(reverse("leads:lead-convert", args=[lead.pk]))
    assert page.status_code == 200
    assert [m.record for m in page.context["accounts"]] == [existing]
    response = client.post(
        reverse("leads:lead-convert", args=[lead.pk]),
        {"account": str(existing.pk), "person": "new", "role_kind": "purchaser"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:account-detail", args=[existing.pk])
    person = Person.objects.get()
    lead.refresh_from_db()
    assert (lead.status, lead.converted_account, lead.converted_person) == ("converted", existing, person)
    # Both customer pages now link back to the lead.
    for url in (
        reverse("customers:account-detail", args=[existing.pk]),
        reverse("customers:person-detail", args=[person.pk]),
    ):
        html = client.get(url).content.decode()
        assert f'href="{reverse("leads:lead-detail", args=[lead.pk])}"' in html
        assert "Converted from lead" in html


def test_convert_page_refuses_unqualified_lead(client: Client, rep: User) -> None:
    lead = LeadFactory.create(actor=rep, owner=rep)
    client.force_login(rep)
    response = client.get(reverse("leads:lead-convert", args=[lead.pk]))
    assert response.status_code == 302


# ---------------------------------------------------------------------------------------------
# Settings pages


@pytest.mark.parametrize(
    "name", ["leads:assignment-rule-list", "leads:scoring-rule-list", "leads:web-form-list", "leads:web-form-create"]
)
def test_settings_are_admin_only(client: Client, rep: User, admin_user: User, name: str) -> None:
    client.force_login(rep)
    assert client.get(reverse(name)).status_code == 403
    client.force_login(admin_user)
    assert client.get(reverse(name)).status_code == 200


def test_admin_creates_reorders_and_toggles_assignment_rules(client: Client, admin_user: User, rep: User) -> None:
    client.force_login(admin_user)
    url = reverse("leads:assignment-rule-create")
    client.post(url, {"name": "First", "action": "user", "assign_to": rep.pk, "is_active": "on"})
    client.post(
        url,
        {
            "name": "Second",
            "action": "user",
            "assign_to": rep.pk,
            "sources": ["web_form"],
            "industries": "IT, 零售",
            "is_active": "on",
        },
    )
    second = AssignmentRule.objects.get(name="Second")
    assert (second.sources, second.industries) == (["web_form"], ["IT", "零售"])
    client.post(reverse("leads:assignment-rule-move", args=[second.pk]), {"direction": "up"})
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["Second", "First"]
    client.post(reverse("leads:assignment-rule-toggle", args=[second.pk]))
    second.refresh_from_db()
    assert second.is_active is False
    response = client.post(url, {"name": "Bad", "action": "round_robin"})
    assert response.status_code == 400
    assert "Choose the team whose members take turns." in response.content.decode()


def test_admin_edits_scoring_rules_and_bands(
    client: Client, admin_user: User, django_capture_on_commit_callbacks: Any
) -> None:
    lead = LeadFactory.create(phone="13812345678")
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("leads:scoring-rule-create"),
            {
                "label": "Phone",
                "kind": "field_filled",
                "field": "phone",
                "threshold": 0,
                "points": 55,
                "position": 0,
                "is_active": "on",
            },
        )
    assert ScoringRule.objects.get().points == 55
    lead.refresh_from_db()
    assert (lead.score, lead.grade) == (55, "B")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("leads:scoring-rule-list"), {"a_from": 50, "b_from": 30, "c_from": 10})
    lead.refresh_from_db()
    assert lead.grade == "A"


def test_web_form_settings_show_the_embed_snippet(client: Client, admin_user: User) -> None:
    client.force_login(admin_user)
    response = client.post(
        reverse("leads:web-form-create"),
        {"name": "Expo 2026", "fields_shown": ["family_name", "email"], "is_active": "on"},
    )
    form = WebForm.objects.get()
    assert response["Location"] == reverse("leads:web-form-edit", args=[form.pk])
    html = client.get(response["Location"]).content.decode()
    assert f"&lt;iframe src=&quot;http://testserver/leads/form/{form.public_key}/&quot;" in html or (
        f'&lt;iframe src="http://testserver/leads/form/{form.public_key}/"' in html
    )


# ---------------------------------------------------------------------------------------------
# Public web form


def _public(form: WebForm) -> str:
    return reverse("leads:web-form-public", args=[form.public_key])


def test_public_form_is_embeddable_and_creates_a_web_form_lead(rep: User) -> None:
    form = WebFormFactory.create(default_owner=rep)
    client = Client(enforce_csrf_checks=True)
    page = client.get(_public(form))
    assert page.status_code == 200
    assert "X-Frame-Options" not in page
    assert page["Content-Security-Policy"] == "frame-ancestors *"
    token = page.context["csrf_token"]
    response = client.post(
        _public(form),
        {
            "family_name": "赵",
            "given_name": "敏",
            "email": "zhao@example.com",
            "message": "Call me",
            "csrfmiddlewaretoken": str(token),
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:web-form-thanks", args=[form.public_key])
    lead = Lead.objects.get()
    assert (lead.source, lead.source_detail, lead.owner, lead.web_form) == ("web_form", form.name, rep, form)
    thanks = client.get(response["Location"])
    assert "Thanks, we will call you." in thanks.content.decode()


def test_public_form_enforces_csrf(rep: User) -> None:
    form = WebFormFactory.create()
    client = Client(enforce_csrf_checks=True)
    response = client.post(_public(form), {"family_name": "X", "email": "x@example.com"})
    assert response.status_code == 403
    assert not Lead.objects.exists()


def test_honeypot_is_accepted_but_discarded(client: Client) -> None:
    form = WebFormFactory.create()
    response = client.post(_public(form), {"family_name": "Bot", "email": "bot@example.com", "website": "http://spam"})
    assert response.status_code == 302
    assert not Lead.objects.exists()


def test_rate_limit_per_address(client: Client) -> None:
    form = WebFormFactory.create()
    for i in range(5):
        response = client.post(_public(form), {"family_name": f"P{i}", "email": f"p{i}@example.com"})
        assert response.status_code == 302
    blocked = client.post(_public(form), {"family_name": "P6", "email": "p6@example.com"})
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "60"
    assert "Please wait a minute" in blocked.content.decode()
    assert Lead.objects.count() == 5
    other = client.post(_public(form), {"family_name": "Q", "email": "q@example.com"}, REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 302


def test_public_form_needs_a_way_to_reach_the_visitor(client: Client) -> None:
    form = WebFormFactory.create()
    response = client.post(_public(form), {"family_name": "Li", "phone": "12"})
    assert response.status_code == 400
    assert "is not a phone number" in response.content.decode() or "not a valid phone" in response.content.decode()
    response = client.post(_public(form), {"family_name": "Li"})
    assert "Enter an e-mail address or a phone number." in response.content.decode()
    assert not Lead.objects.exists()


def test_inactive_or_unknown_form_is_404(client: Client) -> None:
    form = WebFormFactory.create(is_active=False)
    assert client.get(_public(form)).status_code == 404
    assert client.get(reverse("leads:web-form-public", args=["nope"])).status_code == 404
