import pytest
from django.test import Client


@pytest.mark.django_db
def test_unknown_api_path_is_problem_json_and_pages_stay_html() -> None:
    response = Client().get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not found.",
        "status": 404,
        "detail": "No API endpoint or record at /api/no-such-thing/.",
    }
    page = Client().get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")
