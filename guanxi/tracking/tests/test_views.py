"""Tracking pages: admin-only sources with the key shown once, lag, visitors and their events."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from guanxi.customers import services as customer_services
from guanxi.customers.models import Person
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory
from guanxi.tracking import services
from guanxi.tracking.models import Identifier, Profile, ProfileMerge, Source
from guanxi.tracking.services.sources import hash_write_key
from guanxi.tracking.tests.factories import landed_events
from guanxi.tracking.tests.test_processing import identify, land, track


@pytest.mark.parametrize("name", ["tracking:source-list", "tracking:source-create", "tracking:profile-list"])
def test_pages_require_login(client: Client, db: None, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", ["tracking:source-list", "tracking:source-create"])
def test_source_pages_are_for_admins(client: Client, rep: User, manager: User, name: str) -> None:
    for user in (rep, manager, UserFactory.create(username="an", role=StaffRole.ANALYST)):
        client.force_login(user)
        assert client.get(reverse(name)).status_code == 403


def test_source_detail_and_revoke_are_for_admins(client: Client, rep: User, source: Source) -> None:
    client.force_login(rep)
    assert client.get(reverse("tracking:source-detail", args=[source.pk])).status_code == 403
    assert client.post(reverse("tracking:source-revoke", args=[source.pk])).status_code == 403
    source.refresh_from_db()
    assert source.revoked_at is None


def test_create_source_shows_the_key_once(client: Client, admin_user: User) -> None:
    client.force_login(admin_user)
    response = client.post(
        reverse("tracking:source-create"),
        {
            "name": "Mini program",
            "require_consent_for_joining": "on",
            **{
                f"limit_{kind}": "3"
                for kind in ("anonymous_id", "user_id", "email", "phone", "wechat_openid", "wechat_unionid")
            },
        },
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = re.search(r'<code id="write-key">([^<]+)</code>', response.content.decode())
    assert key is not None
    source = Source.objects.get()
    assert source.name == "Mini program"
    assert source.require_consent_for_joining is True
    assert source.traits_overwrite_manual_edits is False
    assert source.identifier_limits["anonymous_id"] == 3
    assert source.write_key_hash == hash_write_key(key.group(1))
    assert key.group(1) not in str(Source.objects.values().get())  # stored only as a hash
    detail = client.get(reverse("tracking:source-detail", args=[source.pk])).content.decode()
    assert key.group(1) not in detail
    assert source.write_key_prefix in detail


def test_create_source_needs_a_name_and_csrf(admin_user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(reverse("tracking:source-create"), {"name": "x"}).status_code == 403
    client = Client()
    client.force_login(admin_user)
    assert client.post(reverse("tracking:source-create"), {"name": ""}).status_code == 400
    assert not Source.objects.exists()


def test_revoke_from_the_page(client: Client, admin_user: User, source: Source) -> None:
    client.force_login(admin_user)
    assert client.get(reverse("tracking:source-revoke", args=[source.pk])).status_code == 200
    response = client.post(reverse("tracking:source-revoke", args=[source.pk]))
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.revoked_at is not None
    assert source.revoked_by == admin_user


def test_source_page_shows_lag_events_and_chart(client: Client, admin_user: User, source: Source) -> None:
    land(source, track("visitor-1"), track("<b>visitor-2</b>"))
    client.force_login(admin_user)
    response = client.get(reverse("tracking:source-detail", args=[source.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "visitor-1" in html
    assert "&lt;b&gt;visitor-2&lt;/b&gt;" in html  # escaped
    assert "<svg" in html
    assert re.search(r"<strong>2</strong>\s*Events waiting to be processed", html)
    assert html.count('<span class="pool">Waiting</span>') == 2
    services.process_landed_events()
    html = client.get(reverse("tracking:source-detail", args=[source.pk])).content.decode()
    assert re.search(r"<strong>0</strong>\s*Events waiting to be processed", html)
    assert "Waiting</span>" not in html


def test_update_source_settings(client: Client, admin_user: User, source: Source) -> None:
    client.force_login(admin_user)
    data = {"name": "Renamed", "traits_overwrite_manual_edits": "on"}
    data.update(
        {f"limit_{k}": "7" for k in ("anonymous_id", "user_id", "email", "phone", "wechat_openid", "wechat_unionid")}
    )
    assert client.post(reverse("tracking:source-detail", args=[source.pk]), data).status_code == 302
    source.refresh_from_db()
    assert (source.name, source.traits_overwrite_manual_edits, source.limit_for("email")) == ("Renamed", True, 7)


def test_visitor_list_and_detail(client: Client, rep: User, source: Source, django_assert_num_queries: object) -> None:
    land(source, *[track(f"anon-{n}") for n in range(30)], identify("u1", "anon-0", email="k@example.com"))
    services.process_landed_events()
    client.force_login(rep)
    client.get(reverse("tracking:profile-list"))  # warm the session and content-type caches
    with django_assert_num_queries(5):  # type: ignore[operator]  # pytest-django's fixture is a context manager factory
        response = client.get(reverse("tracking:profile-list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert len(re.findall(r'href="/tracking/profiles/\d+/"', html)) == 25
    assert "1–25 of 29" in html  # the identified visitor is not anonymous any more
    second = client.get(reverse("tracking:profile-list"), {"q": "anon-2"}).content.decode()
    assert "anon-2" in second
    assert "anon-21" in second
    assert "anon-3" not in second
    profile = Identifier.objects.get(value="anon-5").profile
    detail = client.get(reverse("tracking:profile-detail", args=[profile.pk])).content.decode()
    assert "anon-5" in detail
    assert "Viewed Product" in detail


def test_known_profiles_follow_contact_visibility(
    client: Client, admin_user: User, rep: User, other_rep: User, source: Source
) -> None:
    land(source, identify("u1", email="own@example.com"))
    services.process_landed_events()
    profile = Profile.objects.get()
    assert profile.person is not None
    customer_services.bulk_assign_owner(admin_user, Person, [profile.person.pk], other_rep)
    client.force_login(rep)
    assert client.get(reverse("tracking:profile-detail", args=[profile.pk])).status_code == 404
    client.force_login(other_rep)
    assert client.get(reverse("tracking:profile-detail", args=[profile.pk])).status_code == 200


def test_undo_merge_from_the_page(client: Client, admin_user: User, rep: User, source: Source) -> None:
    land(source, track("a1"), identify("u1"))
    services.process_landed_events()
    land(source, track("a1", "u1"))
    services.process_landed_events()
    merge = ProfileMerge.objects.get()
    client.force_login(rep)
    assert client.post(reverse("tracking:merge-undo", args=[merge.pk])).status_code == 403
    client.force_login(admin_user)
    page = client.get(reverse("tracking:profile-detail", args=[merge.merged_into_id])).content.decode()
    assert reverse("tracking:merge-undo", args=[merge.pk]) in page
    response = client.post(reverse("tracking:merge-undo", args=[merge.pk]))
    assert response.status_code == 302
    merge.refresh_from_db()
    assert merge.status == "undone"
    assert landed_events().count() == 3
