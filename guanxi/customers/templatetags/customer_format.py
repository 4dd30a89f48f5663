"""Display helpers for customer fields in templates."""

from django import template

from guanxi.customers.normalise import format_phone

register = template.Library()


@register.filter(name="phone")
def phone_filter(e164: str) -> str:
    """+8613812345678 → +86 138 1234 5678, the way people read and dial it."""
    return format_phone(e164) if e164 else ""
