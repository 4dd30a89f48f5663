"""The Chinese catalogue is complete: a string without a translation shows English in a Chinese UI."""

from pathlib import Path

import polib
from django.conf import settings

CATALOGUE = Path(settings.BASE_DIR) / "guanxi" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def test_every_message_has_a_current_chinese_translation() -> None:
    catalogue = polib.pofile(str(CATALOGUE))
    live = [entry for entry in catalogue if not entry.obsolete]
    assert len(live) > 400
    untranslated = [entry.msgid for entry in catalogue.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalogue.fuzzy_entries()]
    assert untranslated == []
    assert fuzzy == []
