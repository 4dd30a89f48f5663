from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from guanxi.staff import services
from guanxi.staff.forms import LanguageForm
from guanxi.staff.models import User


@require_POST
@login_required
def set_language_view(request: HttpRequest) -> HttpResponse:
    """Keep the UI language on the user, so it follows them to every device."""
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Unknown language")
    if not isinstance(request.user, User):  # login_required guarantees a real user
        return HttpResponseBadRequest("Not logged in")
    services.set_language(request.user, form.cleaned_data["language"])
    target = form.cleaned_data["next"] or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    return redirect(target)
