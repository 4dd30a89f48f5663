import pytest
from django.test import override_settings

from guanxi.core.worker import start_worker_thread
from guanxi.customers import queries, tasks
from guanxi.customers.models import SearchTerm
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db(transaction=True)


def test_rebuild_search_index_restores_lost_keys(rep: User) -> None:
    person = PersonFactory.create(actor=rep, family_name="司马", given_name="光", phones=["13700001234"])
    AccountFactory.create(actor=rep, name="Acme Trading")
    expected = set(SearchTerm.objects.values_list("term", "person_id", "account_id"))
    SearchTerm.objects.all().delete()
    result = tasks.rebuild_search_index.enqueue(batch_size=1)
    assert result.return_value == {"accounts": 1, "people": 1}
    assert set(SearchTerm.objects.values_list("term", "person_id", "account_id")) == expected
    assert list(queries.search_people(queries.visible_people(rep), "1234")) == [person]


@override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}})
def test_in_process_worker_runs_queued_tasks(rep: User) -> None:
    from django_tasks_db.models import DBTaskResult

    PersonFactory.create(actor=rep, family_name="Queue", given_name="Test")
    SearchTerm.objects.all().delete()
    result = tasks.rebuild_search_index.enqueue()
    assert DBTaskResult.objects.get(id=result.id).status == "READY"
    worker = start_worker_thread()
    assert worker is not None
    try:
        for _ in range(100):
            result.refresh()
            if result.is_finished:
                break
            worker.thread.join(0.1)
    finally:
        worker.stop()
    assert not worker.thread.is_alive()
    assert result.status == "SUCCESSFUL"
    assert result.return_value == {"accounts": 0, "people": 1}
    assert SearchTerm.objects.filter(term="queue").exists()
