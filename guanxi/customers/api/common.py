"""What several customer API modules share: who is asking, the party types, and which actions edit.

Kept in one place so the fields, the party viewsets, the link viewsets and the settings viewsets
use one definition of each without importing one another.
"""

from rest_framework import exceptions
from rest_framework.request import Request

from guanxi.staff.models import User

PARTY_TYPES = ("account", "person")
EDIT_ACTIONS = frozenset({"update", "partial_update", "destroy", "stage"})


def actor_of(request: Request) -> User:
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise exceptions.NotAuthenticated()
    return user
