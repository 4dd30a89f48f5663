"""Forms of the import pages: the upload, the column mapping and the choice after a dry run.

They only parse and show input; the import service validates the file and the mapping and
does every write. Its errors are put back onto the field they concern (a mapping error names
the file column, which is one select of the mapping form).
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from guanxi.dataio.models import DuplicatePolicy, ImportJob, ImportMode, Target

# Uploads bigger than this are refused before they reach the service: a few hundred thousand
# rows of CSV are well under it, and it keeps one request from filling the data folder.
MAX_UPLOAD_BYTES = 200 * 1024 * 1024


class UploadForm(forms.Form):
    target = forms.ChoiceField(label=_("Record type"), choices=Target.choices, widget=forms.RadioSelect)
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "CSV (any common encoding, e.g. UTF-8 or GBK), Excel (XLSX) or vCard; the first row names the columns."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx,.vcf,.vcard"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(
                _("The file is too big: at most %(size)s MB."), params={"size": MAX_UPLOAD_BYTES // (1024 * 1024)}
            )
        return upload


def column_field_name(index: int) -> str:
    """Form field of the file's `index`-th column: column headers can hold any text, so index them."""
    return f"column_{index}"


class MappingForm(forms.Form):
    """One select per file column (which field it fills, or ignore it), then how to import."""

    save_as = forms.CharField(
        label=_("Save this mapping as"),
        required=False,
        max_length=100,
        help_text=_("Optional: a name, so files with the same columns are mapped the same way next time."),
    )
    mode = forms.ChoiceField(label=_("Mode"), choices=ImportMode.choices, widget=forms.RadioSelect)
    on_duplicate = forms.ChoiceField(
        label=_("When a record exists"), choices=DuplicatePolicy.choices, widget=forms.RadioSelect
    )

    def __init__(self, data: Any = None, *, job: ImportJob, fields: list[tuple[str, str]]) -> None:
        super().__init__(data, initial={"mode": job.mode, "on_duplicate": job.on_duplicate})
        self.job = job
        if job.target == Target.ORDER:
            # An order imported before is always skipped (its reference is its external id).
            self.fields["on_duplicate"] = forms.ChoiceField(
                choices=[(DuplicatePolicy.SKIP.value, DuplicatePolicy.SKIP.label)],
                widget=forms.HiddenInput,
                initial=DuplicatePolicy.SKIP,
            )
        choices = [("", _("— ignore this column —")), *fields]
        known = {key for key, _label in fields}
        for index, column in enumerate(job.columns):
            suggested = job.mapping.get(column, "")
            self.fields[column_field_name(index)] = forms.ChoiceField(
                label=column,
                choices=choices,
                required=False,
                initial=suggested if suggested in known else "",
            )

    def column_fields(self) -> list[forms.BoundField]:
        return [self[column_field_name(index)] for index in range(len(self.job.columns))]

    def mapping(self) -> dict[str, str]:
        """Column header → field key ("" ignores the column), as the service takes it."""
        return {
            column: self.cleaned_data.get(column_field_name(index)) or ""
            for index, column in enumerate(self.job.columns)
        }

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put each service error on its column's select or form field; the rest above the form."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        by_column = {column: column_field_name(index) for index, column in enumerate(self.job.columns)}
        for key, messages in exc.message_dict.items():
            field = by_column.get(key) or (key if key in self.fields else None)
            for message in messages:
                if field is None and key not in ("__all__", "", "mapping"):
                    message = f"{key}: {message}"
                self.add_error(field, message)


class RunForm(forms.Form):
    """After a dry run: import everything or nothing, or only the good rows."""

    mode = forms.ChoiceField(choices=ImportMode.choices)
