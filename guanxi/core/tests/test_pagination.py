import pytest

from guanxi.core.models import Tag
from guanxi.core.pagination import InvalidCursorError, capped_count, keyset_page, parse_ordering

pytestmark = pytest.mark.django_db


@pytest.fixture
def tags() -> list[Tag]:
    # Duplicate colours force the id tie-breaker to do its job.
    return [Tag.objects.create(name=f"tag-{i:02d}", color=f"#00000{i % 3}") for i in range(23)]


def _walk(ordering: str, size: int) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        page = keyset_page(Tag.objects.all(), ordering=ordering, cursor=cursor, size=size)
        seen.extend(t.pk for t in page.items)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


@pytest.mark.parametrize("ordering", ["name", "-name", "color", "-color", "created_at"])
def test_forward_walk_visits_every_row_once_in_order(tags: list[Tag], ordering: str) -> None:
    field = ordering.lstrip("-")
    expected = [t.pk for t in sorted(tags, key=lambda t: (getattr(t, field), t.pk), reverse=ordering.startswith("-"))]
    assert _walk(ordering, 5) == expected


def test_previous_page_returns_the_same_rows(tags: list[Tag]) -> None:
    first = keyset_page(Tag.objects.all(), ordering="color", cursor=None, size=7)
    assert first.previous_cursor is None
    second = keyset_page(Tag.objects.all(), ordering="color", cursor=first.next_cursor, size=7)
    back = keyset_page(Tag.objects.all(), ordering="color", cursor=second.previous_cursor, size=7)
    assert [t.pk for t in back.items] == [t.pk for t in first.items]
    assert back.previous_cursor is None
    assert back.next_cursor is not None


def test_bad_cursor_is_rejected() -> None:
    with pytest.raises(InvalidCursorError):
        keyset_page(Tag.objects.all(), ordering="name", cursor="not-a-cursor", size=5)


def test_parse_ordering_falls_back_on_unknown_fields() -> None:
    assert parse_ordering("-name", ("name",), "name") == "-name"
    assert parse_ordering("password", ("name",), "name") == "name"
    assert parse_ordering(None, ("name",), "-name") == "-name"


def test_capped_count(tags: list[Tag]) -> None:
    assert capped_count(Tag.objects.all(), cap=30) == (23, False)
    assert capped_count(Tag.objects.all(), cap=10) == (10, True)
