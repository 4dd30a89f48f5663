import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from guanxi.staff import access, services
from guanxi.staff.models import StaffRole, Team, User
from guanxi.staff.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", [StaffRole.SERVICE_AGENT, StaffRole.MARKETER, StaffRole.ANALYST])
def test_only_sales_staff_claim_from_the_pool(role: str, rep: User, manager: User) -> None:
    assert access.can_claim(UserFactory.create(role=role)) is False
    assert access.can_claim(rep) is True
    assert access.can_claim(manager) is True


def test_inactive_users_see_and_change_nothing(rep: User) -> None:
    rep.is_active = False
    assert User.objects.filter(access.visible_q(rep, owner_field="team__manager")).count() == 0
    assert User.objects.filter(access.editable_q(rep, owner_field="team__manager")).count() == 0
    assert access.can_manage_settings(rep) is False


def test_assignment_rules(manager: User, rep: User, outside_rep: User, admin_user: User, team: Team) -> None:
    assert access.can_assign_to(admin_user, outside_rep)
    assert access.can_assign_to(manager, rep)
    assert not access.can_assign_to(manager, outside_rep)
    assert access.can_assign_to(rep, rep)
    assert not access.can_assign_to(rep, manager)
    assert access.can_assign_to(rep, None)


def test_language_is_validated_and_kept(rep: User) -> None:
    services.set_language(rep, "zh-hans")
    rep.refresh_from_db()
    assert rep.language == "zh-hans"
    with pytest.raises(ValidationError):
        services.set_language(rep, "klingon")


def test_language_view_switches_and_refuses_foreign_redirects(rep: User) -> None:
    client = Client()
    client.force_login(rep)
    response = client.post("/staff/language/", {"language": "zh-hans", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    rep.refresh_from_db()
    assert rep.language == "zh-hans"
    assert client.get("/staff/language/").status_code == 405


def test_create_user_rejects_unknown_roles() -> None:
    with pytest.raises(ValidationError):
        services.create_user("x", "pw-long-enough", role="overlord")
    admin = services.create_user("boss", "pw-long-enough", role=StaffRole.ADMIN)
    assert admin.is_superuser
    assert admin.is_admin


def test_staff_names_follow_their_script() -> None:
    assert str(User(username="cj", first_name="静", last_name="陈")) == "陈静"
    assert str(User(username="tb", first_name="Tom", last_name="Baker")) == "Tom Baker"
    assert str(User(username="nobody")) == "nobody"
