"""Paging a rep's list branch by branch (own, pool) gives exactly the pages one OR query gives."""

from collections.abc import Sequence
from typing import Any

import pytest
from django.db.models import Q, QuerySet

from guanxi.core.pagination import keyset_page
from guanxi.customers import queries
from guanxi.customers.models import Person
from guanxi.customers.tests.factories import PersonFactory
from guanxi.staff.models import User


def _walk(queryset: QuerySet[Any], ordering: str, branches: Sequence[Q]) -> tuple[list[int], list[int]]:
    """All ids walking forwards page by page, and all ids again walking back from the last page."""
    forward: list[int] = []
    cursor = None
    last = None
    while True:
        page = keyset_page(queryset, ordering=ordering, cursor=cursor, size=3, branches=branches)
        forward += [p.pk for p in page.items]
        last = page
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert last is not None
    backward: list[int] = [p.pk for p in last.items]
    page = last
    while page.previous_cursor is not None:
        page = keyset_page(queryset, ordering=ordering, cursor=page.previous_cursor, size=3, branches=branches)
        backward = [p.pk for p in page.items] + backward
    return forward, backward


@pytest.mark.django_db
@pytest.mark.parametrize("ordering", ["full_name", "-full_name", "created_at", "-updated_at"])
def test_branch_paging_matches_single_query(rep: User, manager: User, ordering: str) -> None:
    names = ["王芳", "Zhang Wei", "Alice Brown", "李娜", "Bob Stone", "alice brown", "陈静", "Émile Zola"]
    for index, name in enumerate(names):
        owner = rep if index % 3 == 0 else (None if index % 3 == 1 else manager)
        family, _, given = name.partition(" ")
        PersonFactory.create(family_name=family, given_name=given, owner=owner)
        PersonFactory.create(family_name=family, given_name=given, owner=owner)  # equal names: ties break on id
    visible = queries.visible_people(rep)
    branches = queries.visible_person_branches(rep)
    assert len(branches) == 2

    merged_forward, merged_backward = _walk(visible, ordering, branches)
    plain_forward, _ = _walk(visible, ordering, [])

    tie_break = "-pk" if ordering.startswith("-") else "pk"
    expected = list(visible.order_by(ordering, tie_break).values_list("pk", flat=True))
    assert len(expected) == 12  # own (6) + pool (6); the manager's 4 are not the rep's to see
    assert Person.objects.count() == 16
    assert plain_forward == expected
    assert merged_forward == expected
    assert merged_backward == expected
