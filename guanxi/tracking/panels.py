"""The "Online behaviour" panel on a contact's page: computed traits over their tracking profiles.

`customers` may not import tracking, so the panel registers itself with `core.panels`
(`register`, called from the app's `ready`). It shows what the contact's visible profiles add up
to and links to each profile.
"""

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from guanxi.core.panels import register_panel
from guanxi.customers.models import Person
from guanxi.staff.models import User
from guanxi.tracking import queries

PROFILES_SHOWN = 5


def person_panel(request: HttpRequest, record: object) -> SafeString | str:
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated or not isinstance(record, Person):
        return ""
    traits, count = queries.person_traits(user, record)
    if not count:
        return ""
    first_seen, last_seen = queries.person_seen(user, record)
    profiles = list(queries.visible_profiles(user).filter(person=record).order_by("-last_seen", "-id")[:PROFILES_SHOWN])
    return render_to_string(
        "tracking/_person_panel.html",
        {
            "traits": traits,
            "profiles": profiles,
            "profile_count": count,
            "first_seen": first_seen,
            "last_seen": last_seen,
        },
        request=request,
    )


def register() -> None:
    register_panel("customers.person", "tracking.traits", person_panel, order=50)
