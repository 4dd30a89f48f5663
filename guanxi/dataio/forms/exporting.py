"""The export form: which list (record type), which file format, and the list's query string.

The filters are read from the list's own query string exactly as the list view reads them
(`customers.queries.PartyFilters.from_query`): the same names, the same trimming, the same `attr.<key>` custom
attribute filters and the same `ordering`, so an export holds what the list showed.
"""

from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from guanxi.customers import queries
from guanxi.dataio.models import CUSTOMER_TARGET_CHOICES, FileFormat
from guanxi.dataio.services.exporting import ExportSpec

MAX_QUERY_LENGTH = 4000
IGNORED_PARAMETERS = frozenset({"cursor", "pos"})  # paging: an export takes the whole list


def spec_from_query(target: str, query: QueryDict) -> ExportSpec:
    """The list's filters and sort, read from its query string as the list view reads them."""
    filters = queries.PartyFilters.from_query(query)
    return ExportSpec(target=target, filters=filters, ordering=query.get("ordering", ""))


class ExportForm(forms.Form):
    target = forms.ChoiceField(label=_("Record type"), choices=CUSTOMER_TARGET_CHOICES)
    format = forms.ChoiceField(label=_("Format"), choices=FileFormat.choices, widget=forms.RadioSelect)
    query = forms.CharField(required=False, max_length=MAX_QUERY_LENGTH, widget=forms.HiddenInput)

    def spec(self) -> ExportSpec:
        data: dict[str, Any] = self.cleaned_data
        return spec_from_query(data["target"], QueryDict(data.get("query") or ""))

    def list_query(self) -> str:
        """The list's query string without paging, for the "back to the list" link."""
        query = QueryDict(self.cleaned_data.get("query") or "", mutable=True)
        for name in IGNORED_PARAMETERS:
            query.pop(name, None)
        return query.urlencode()
