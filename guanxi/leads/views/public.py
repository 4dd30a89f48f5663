"""The public web-to-lead form: a small page other sites embed in an iframe.

CSRF stays on: the page carries the token of its own response. A honeypot field, filled only by
bots, is accepted silently and discarded; each address may post a few times a minute (Django's
cache counts), then gets a 429 page saying so.
"""

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_http_methods

from guanxi.customers.forms.common import add_service_errors
from guanxi.leads import services
from guanxi.leads.forms import PublicLeadForm
from guanxi.leads.models import WebForm

RATE_LIMIT = 5  # posts per address
RATE_WINDOW = 60  # seconds


def _rate_limited(request: HttpRequest) -> bool:
    """Count this address's posts in a fixed window; REMOTE_ADDR only, as a client sets X-Forwarded-For."""
    key = f"leads:web-form:{request.META.get('REMOTE_ADDR', '')}"
    cache.add(key, 0, RATE_WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, RATE_WINDOW)
        count = 1
    return count > RATE_LIMIT


def _embeddable(response: HttpResponse) -> HttpResponse:
    """Any site may frame this page (and only this page): CSP frame-ancestors says so explicitly."""
    response["Content-Security-Policy"] = "frame-ancestors *"
    return response


def _cross_site_csrf_cookie(request: HttpRequest, response: HttpResponse) -> None:
    """Inside another site's iframe a SameSite=Lax cookie is not sent back, so over HTTPS this
    page's CSRF cookie is issued as SameSite=None; Secure (browsers require both) here, in place
    of the middleware's, which is told it has nothing left to set."""
    if not request.is_secure() or settings.CSRF_USE_SESSIONS or "CSRF_COOKIE" not in request.META:
        return
    response.set_cookie(
        settings.CSRF_COOKIE_NAME,
        request.META["CSRF_COOKIE"],
        max_age=settings.CSRF_COOKIE_AGE,
        domain=settings.CSRF_COOKIE_DOMAIN,
        path=settings.CSRF_COOKIE_PATH,
        secure=True,
        httponly=settings.CSRF_COOKIE_HTTPONLY,
        samesite="None",
    )
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = False


@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def web_form_public(request: HttpRequest, key: str) -> HttpResponse:
    web_form = get_object_or_404(WebForm, public_key=key, is_active=True)
    form = PublicLeadForm(request.POST or None, web_form=web_form)
    status = 200
    if request.method == "POST":
        if _rate_limited(request):
            response = render(request, "leads/public/rate_limited.html", {"web_form": web_form}, status=429)
            response["Retry-After"] = str(RATE_WINDOW)
            return _embeddable(response)
        if form.is_spam:
            return redirect("leads:web-form-thanks", key=key)
        if form.is_valid():
            data = {name: value for name, value in form.cleaned_data.items() if name != PublicLeadForm.HONEYPOT}
            try:
                services.submit_web_form(web_form, data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                return redirect("leads:web-form-thanks", key=key)
        status = 400
    response = render(request, "leads/public/web_form.html", {"form": form, "web_form": web_form}, status=status)
    _cross_site_csrf_cookie(request, response)
    return _embeddable(response)


@xframe_options_exempt
def web_form_thanks(request: HttpRequest, key: str) -> HttpResponse:
    web_form = get_object_or_404(WebForm, public_key=key)
    return _embeddable(render(request, "leads/public/thanks.html", {"web_form": web_form}))
