"""Writes to staff records."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from guanxi.staff.models import StaffRole, Team, User


def set_language(user: User, language: str) -> User:
    codes = {code for code, _label in settings.LANGUAGES}
    if language not in codes:
        raise ValidationError({"language": [_("Choose one of: %(codes)s.") % {"codes": ", ".join(sorted(codes))}]})
    user.language = language
    user.save(update_fields=["language"])
    return user


@transaction.atomic
def create_team(name: str, manager: User | None = None) -> Team:
    team = Team.objects.create(name=name, manager=manager)
    if manager is not None:
        manager.team = team
        manager.save(update_fields=["team"])
    return team


@transaction.atomic
def create_user(
    username: str,
    password: str,
    *,
    role: str = StaffRole.SALES_REP,
    team: Team | None = None,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    language: str = "",
) -> User:
    if role not in StaffRole.values:
        raise ValidationError({"role": [_("Unknown role.")]})
    user = User(
        username=username,
        role=role,
        team=team,
        first_name=first_name,
        last_name=last_name,
        email=email,
        language=language,
        is_staff=role == StaffRole.ADMIN,
        is_superuser=role == StaffRole.ADMIN,
    )
    user.set_password(password)
    user.full_clean()
    user.save()
    return user
