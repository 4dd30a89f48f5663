"""Background jobs for duplicates: the whole-database search, thin and safe to rerun."""

from django.tasks import task

from guanxi.dataio import duplicates
from guanxi.dataio.models import DuplicateSearch


@task()
def find_duplicates(target: str, search_id: int | None = None) -> dict[str, int]:
    """Find and store the likely duplicate pairs of `target` ("person" or "account"), updating
    the `DuplicateSearch` row `search_id` (made when the search was asked for) as it goes."""
    search = DuplicateSearch.objects.filter(pk=search_id, target=target).first() if search_id else None
    report = duplicates.find_and_store(target, search=search)
    return {"pairs": len(report.pairs), "compared": report.compared, "records": report.records}
