"""Settings pages, for admins only: tags and custom attribute definitions."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from guanxi.core.models import AttributeDefinition, Tag
from guanxi.customers import services
from guanxi.customers.forms.common import add_service_errors
from guanxi.customers.forms.configuration import AttributeDefinitionForm, TagForm
from guanxi.customers.views.common import request_user
from guanxi.staff import access
from guanxi.staff.models import User


def _require_admin(request: HttpRequest) -> User:
    user = request_user(request)
    if not access.can_manage_settings(user):
        raise PermissionDenied(_("Only an admin may change settings."))
    return user


@login_required
@require_GET
def tag_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    return render(request, "customers/settings/tag_list.html", {"tags": Tag.objects.order_by("name")})


def _tag_form(request: HttpRequest, tag: Tag | None) -> HttpResponse:
    user = _require_admin(request)
    initial = {"name": tag.name, "color": tag.color} if tag else None
    form = TagForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if tag is None:
                saved = services.create_tag(user, form.cleaned_data["name"], form.cleaned_data["color"])
            else:
                saved = services.update_tag(user, tag, form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved the tag “%(name)s”.") % {"name": saved.name})
            return redirect("customers:tag-list")
    return render(
        request,
        "customers/settings/tag_form.html",
        {"form": form, "tag": tag},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def tag_create(request: HttpRequest) -> HttpResponse:
    return _tag_form(request, None)


@login_required
def tag_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    return _tag_form(request, get_object_or_404(Tag, pk=pk))


@login_required
def tag_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require_admin(request)
    tag = get_object_or_404(Tag, pk=pk)
    if request.method == "POST":
        services.delete_tag(user, tag)
        messages.success(request, _("Deleted the tag “%(name)s”.") % {"name": tag.name})
        return redirect("customers:tag-list")
    return render(
        request,
        "customers/confirm_delete.html",
        {"object": tag, "kind": "tag", "cancel_url": reverse("customers:tag-list")},
    )


@login_required
@require_GET
def attribute_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    return render(
        request,
        "customers/settings/attribute_list.html",
        {"definitions": AttributeDefinition.objects.order_by("target", "position", "key")},
    )


def _attribute_form(request: HttpRequest, definition: AttributeDefinition | None) -> HttpResponse:
    user = _require_admin(request)
    form = AttributeDefinitionForm(request.POST or None, instance=definition)
    if request.method == "POST" and form.is_valid():
        try:
            if definition is None:
                saved = services.create_attribute_definition(user, form.service_data())
            else:
                data = form.service_data()
                for fixed in ("target", "key", "data_type"):
                    data.pop(fixed, None)
                saved = services.update_attribute_definition(user, definition, data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved the custom attribute “%(label)s”.") % {"label": saved.label})
            return redirect("customers:attribute-list")
    return render(
        request,
        "customers/settings/attribute_form.html",
        {"form": form, "definition": definition},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def attribute_create(request: HttpRequest) -> HttpResponse:
    return _attribute_form(request, None)


@login_required
def attribute_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    return _attribute_form(request, get_object_or_404(AttributeDefinition, pk=pk))


@login_required
def attribute_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require_admin(request)
    definition = get_object_or_404(AttributeDefinition, pk=pk)
    if request.method == "POST":
        services.delete_attribute_definition(user, definition)
        messages.success(request, _("Deleted the custom attribute “%(label)s”.") % {"label": definition.label})
        return redirect("customers:attribute-list")
    return render(
        request,
        "customers/confirm_delete.html",
        {"object": definition, "kind": "attribute", "cancel_url": reverse("customers:attribute-list")},
    )
