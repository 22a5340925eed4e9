"""The admin is Chinese by default; the compiled catalogue matches its source."""

import gettext
import re
from pathlib import Path

from django.conf import settings
from django.utils import translation

from members.models import Member

PO = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def _po_entries(text: str) -> dict:
    """msgid -> msgstr; an entry with a context is keyed as gettext keys it, ``context\x04msgid``,
    and each form of a plural entry as ``(msgid, n)`` -> ``msgstr[n]``."""
    entries, field = {}, None
    current = {"msgctxt": "", "msgid": "", "msgstr": ""}

    def flush():
        key = f"{current['msgctxt']}\x04{current['msgid']}" if current["msgctxt"] else current["msgid"]
        forms = {f: v for f, v in current.items() if f.startswith("msgstr[")}
        if forms:
            entries.update({(key, int(f[7:-1])): v for f, v in forms.items()})
        else:
            entries[key] = current["msgstr"]
        return {"msgctxt": "", "msgid": "", "msgstr": ""}

    for line in text.splitlines() + [""]:
        if line.startswith(("msgctxt ", "msgid ", "msgid_plural ", "msgstr ", "msgstr[")):
            field, _, value = line.partition(" ")
            if field in ("msgctxt", "msgid") and current["msgid"]:
                current = flush()
            current[field] = _unquote(value)
        elif line.startswith('"') and field:
            current[field] += _unquote(line)
        elif not line.strip() and current["msgid"]:
            current, field = flush(), None
    return entries


def _unquote(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), value.strip()[1:-1])


def test_every_source_string_has_a_chinese_translation_and_the_mo_file_is_compiled():
    source = _po_entries(PO.read_text(encoding="utf-8"))
    with open(PO.with_suffix(".mo"), "rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog

    assert source, "no entries parsed"
    assert [msgid for msgid, msgstr in source.items() if not msgstr] == []
    assert {k: v for k, v in compiled.items() if k} == source, "run `make messages` to recompile"


def test_model_labels_are_chinese_by_default_and_english_on_request():
    assert settings.LANGUAGE_CODE == "zh-hans"
    with translation.override("zh-hans"):
        assert str(Member._meta.verbose_name) == "会员"
    with translation.override("en"):
        assert str(Member._meta.verbose_name) == "member"


THEME_PO = Path(settings.BASE_DIR) / "locale" / "theme" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def test_the_themes_catalogue_is_compiled_and_read_beside_the_projects():
    """unfold's texts live apart from the catalogue `make messages` rewrites, and are still read."""
    source = _po_entries(THEME_PO.read_text(encoding="utf-8"))
    with open(THEME_PO.with_suffix(".mo"), "rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog

    assert [msgid for msgid, msgstr in source.items() if not msgstr] == []
    assert {k: v for k, v in compiled.items() if k} == source, "run `make messages` to recompile"
    assert not set(source) & set(_po_entries(PO.read_text(encoding="utf-8"))) - {""}
    with translation.override("zh-hans"):
        assert translation.gettext("Log out") == "退出登录"
        assert translation.gettext("Apply Filters") == source["Apply Filters"]
