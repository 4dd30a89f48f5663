"""Forms of the tracking pages: a source's settings and tracking plan, the visitor list's filters."""

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanxi.tracking.models import DEFAULT_IDENTIFIER_LIMITS, IdentifierType, Source


class SourceForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("tracking", "Name"), max_length=100)
    require_consent_for_joining = forms.BooleanField(
        label=_("Join anonymous history only after profiling consent"),
        required=False,
        help_text=_("Until the contact has granted profiling consent, what they did before signing in stays apart."),
    )
    traits_overwrite_manual_edits = forms.BooleanField(
        label=_("Tracked traits overwrite manual edits"),
        required=False,
        help_text=_("Off: a value a staff member edited on the contact is kept when a tracked trait differs."),
    )

    def __init__(self, *args: Any, source: Source | None = None, **kwargs: Any) -> None:
        if source is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": source.name,
                "require_consent_for_joining": source.require_consent_for_joining,
                "traits_overwrite_manual_edits": source.traits_overwrite_manual_edits,
                **{f"limit_{kind}": source.limit_for(kind) for kind in IdentifierType.values},
            }
        super().__init__(*args, **kwargs)
        for kind, label in IdentifierType.choices:
            self.fields[f"limit_{kind}"] = forms.IntegerField(
                label=_("Most %(type)s per profile") % {"type": label},
                min_value=1,
                max_value=10_000,
                initial=DEFAULT_IDENTIFIER_LIMITS.get(kind, 1),
            )

    def limit_fields(self) -> list[forms.BoundField]:
        return [self[f"limit_{kind}"] for kind in IdentifierType.values]

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "require_consent_for_joining": data["require_consent_for_joining"],
            "traits_overwrite_manual_edits": data["traits_overwrite_manual_edits"],
            "identifier_limits": {kind: data[f"limit_{kind}"] for kind in IdentifierType.values},
        }


class ProfileFilterForm(forms.Form):
    KNOWN_CHOICES = (
        ("anonymous", _("Anonymous visitors")),
        ("known", _("Known contacts")),
        ("all", _("All profiles")),
    )
    q = forms.CharField(label=_("Identifier starts with"), required=False, max_length=255)
    known = forms.ChoiceField(label=_("Show"), choices=KNOWN_CHOICES, required=False, initial="anonymous")


MAX_PLAN_FILE_BYTES = 1024 * 1024


class TrackingPlanForm(forms.Form):
    """A source's tracking plan as JSON: edited in the text box or imported from a file."""

    plan = forms.CharField(
        label=_("Plan (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}),
        help_text=_(
            'A list of events, e.g. {"events": [{"type": "track", "name": "Product Viewed", '
            '"properties": [{"name": "sku", "type": "string", "required": true}]}]}. '
            "Types: string, number, integer, boolean, object, array."
        ),
    )
    file = forms.FileField(label=_("Or import a JSON file"), required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("file")
        if upload is not None:
            if upload.size is not None and upload.size > MAX_PLAN_FILE_BYTES:
                raise forms.ValidationError(_("The file is larger than 1 MB."))
            raw = upload.read()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise forms.ValidationError(_("The file is not UTF-8 text.")) from exc
        else:
            text = cleaned.get("plan") or ""
        if not text.strip():
            raise forms.ValidationError(_("Paste a plan or choose a file."))
        try:
            cleaned["data"] = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(_("The plan is not valid JSON: %(error)s") % {"error": exc}) from exc
        return cleaned
