"""Normalising contact details with the libraries that do it properly."""

from urllib.parse import urlsplit

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email

from guanxi.core.names import display_name


class InvalidValueError(ValueError):
    """A contact detail that cannot be normalised; the message says why, for the user."""


def normalise_email(raw: str) -> str:
    """Validated, lower-cased address (mailboxes are case-insensitive in practice everywhere)."""
    text = raw.strip()
    if not text:
        raise InvalidValueError(_("Enter an e-mail address."))
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidValueError(
            _("%(value)s is not a valid e-mail address: %(reason)s") % {"value": text, "reason": exc}
        ) from exc
    return str(result.normalized).lower()


def normalise_phone(raw: str, region: str | None = None) -> str:
    """E.164, reading numbers without a country code as numbers of the default region."""
    text = raw.strip()
    if not text:
        raise InvalidValueError(_("Enter a phone number."))
    region = region or settings.GUANXI_DEFAULT_PHONE_REGION
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValueError(_("%(value)s is not a phone number.") % {"value": text}) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidValueError(
            _("%(value)s is not a valid phone number (numbers without +country code are read as %(region)s).")
            % {"value": text, "region": region}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_digits(e164: str) -> str:
    try:
        return phonenumbers.national_significant_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return ""


def format_phone(e164: str) -> str:
    """International format for display: +86 138 1234 5678."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def domain_of(website: str) -> str:
    """`https://www.Example.com/about` → `example.com`, for duplicate checks and search."""
    text = website.strip().lower()
    if not text:
        return ""
    if "://" not in text:
        text = "http://" + text
    host = urlsplit(text).hostname or ""
    return host.removeprefix("www.")


def full_name(family_name: str, given_name: str) -> str:
    return display_name(family_name, given_name)
