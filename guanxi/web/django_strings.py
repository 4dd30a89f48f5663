"""Django's own strings that its zh_Hans catalogue does not translate yet; ours fills the gap.

Listing them here keeps them in `makemessages` output, so they are not dropped as obsolete.
"""

from django.utils.translation import gettext_noop

MISSING_IN_DJANGO = (
    gettext_noop("- Select an option -"),  # BLANK_CHOICE_LABEL, new in Django 6.1
)
