import datetime

import pytest
from django.core.exceptions import ValidationError

from guanxi.core.attributes import clean_attributes
from guanxi.core.history import diff
from guanxi.core.models import AttributeDefinition


def test_diff_reports_changed_keys_and_flattens_attributes() -> None:
    before = {"name": "A", "tags": ["x"], "attributes": {"size": 1, "colour": "red"}}
    after = {"name": "A", "tags": ["x", "y"], "attributes": {"size": 2, "region": "east"}}
    assert diff(before, after) == {
        "tags": [["x"], ["x", "y"]],
        "attributes.colour": ["red", None],
        "attributes.region": [None, "east"],
        "attributes.size": [1, 2],
    }
    assert diff(before, before) == {}


@pytest.fixture
def definitions(db: None) -> None:
    AttributeDefinition.objects.create(target="person", key="size", label="Size", data_type="number")
    AttributeDefinition.objects.create(target="person", key="since", label="Since", data_type="date")
    AttributeDefinition.objects.create(target="person", key="note", label="Note", data_type="text")
    AttributeDefinition.objects.create(
        target="person", key="plan", label="Plan", data_type="choice", choices=["basic", "pro"], required=True
    )


def test_values_are_coerced_by_type(definitions: None) -> None:
    values = {"size": "41.5", "since": datetime.date(2024, 2, 29), "note": "  hi ", "plan": "pro"}
    assert clean_attributes("person", values) == {"size": 41.5, "since": "2024-02-29", "note": "hi", "plan": "pro"}


def test_blank_removes_and_required_is_enforced(definitions: None) -> None:
    current = {"size": 40, "plan": "basic"}
    assert clean_attributes("person", {"size": ""}, current=current) == {"plan": "basic"}
    with pytest.raises(ValidationError) as caught:
        clean_attributes("person", {"plan": None}, current=current)
    assert caught.value.message_dict == {"attributes.plan": ["This attribute is required."]}


def test_every_bad_value_is_named(definitions: None) -> None:
    with pytest.raises(ValidationError) as caught:
        clean_attributes(
            "person", {"size": "NaN", "since": "31/12/2024", "note": "x" * 1001, "plan": "gold", "other": 1}
        )
    assert sorted(caught.value.message_dict) == [
        "attributes.note",
        "attributes.other",
        "attributes.plan",
        "attributes.since",
        "attributes.size",
    ]
    assert caught.value.message_dict["attributes.plan"] == ["gold is not one of the choices: basic, pro."]
