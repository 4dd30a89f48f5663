"""Personal names in the order their script expects, for staff and customers alike."""

import re

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


def has_cjk(value: str) -> bool:
    return bool(CJK.search(value))


def display_name(family_name: str, given_name: str) -> str:
    """张 + 伟 → 张伟 (family first, no space); Wei + Zhang → Wei Zhang (given name first)."""
    family, given = family_name.strip(), given_name.strip()
    if has_cjk(family) or has_cjk(given):
        return f"{family}{given}"
    return " ".join(part for part in (given, family) if part)
