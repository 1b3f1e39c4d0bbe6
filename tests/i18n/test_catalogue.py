"""The Danish catalogue is complete and current: every message of the code and templates is
translated (no empty or fuzzy msgstr), `makemessages` would not change the set of msgids, and
the committed .mo holds exactly what the .po says (`manage.py compilemessages` after every
change of the .po)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
from django.conf import settings

BASE = Path(settings.BASE_DIR)
PO = BASE / "locale" / "da" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# Not read by makemessages (Makefile, `make messages`): what is not the application.
NOT_SOURCES = {"tests", "bench", "docs", "static", "var", "locale", "deploy"}


def sources() -> list[Path]:
    """The project's packages (the apps and the project) and the templates."""
    return sorted(
        path
        for path in BASE.iterdir()
        if path.is_dir()
        and path.name not in NOT_SOURCES
        and ((path / "__init__.py").exists() or path.name == "templates")
    )


def key(entry: polib.POEntry | polib.MOEntry) -> tuple[str | None, str, str]:
    return (entry.msgctxt, entry.msgid, entry.msgid_plural or "")


def active(po: polib.POFile) -> list[polib.POEntry]:
    return [e for e in po if not e.obsolete]


def test_every_message_is_translated_into_danish() -> None:
    po = polib.pofile(str(PO))
    untranslated = [e.msgid for e in active(po) if not e.translated()]
    fuzzy = [e.msgid for e in active(po) if "fuzzy" in e.flags]
    assert untranslated == [], f"{len(untranslated)} messages without a Danish translation"
    assert fuzzy == [], f"{len(fuzzy)} fuzzy translations to check"


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    po = polib.pofile(str(PO))
    mo = polib.mofile(str(MO))
    in_po = {key(e): (e.msgstr, tuple(sorted(e.msgstr_plural.items()))) for e in active(po)}
    in_mo = {
        key(e): (e.msgstr, tuple(sorted(e.msgstr_plural.items()))) for e in mo if e.msgid != ""
    }
    assert in_mo == in_po, "run `manage.py compilemessages` and commit the .mo"


def test_makemessages_would_not_change_the_catalogue(tmp_path: Path) -> None:
    """makemessages runs on a copy of the project, so the checkout is never touched."""
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(BASE / "manage.py", copy)
    for path in [*sources(), BASE / "locale"]:
        shutil.copytree(path, copy / path.name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale", "da", "--no-location"],
        cwd=copy,
        env={**os.environ, "DEFAULT_LANGUAGE": "en"},
        check=True,
        capture_output=True,
    )
    fresh = {key(e) for e in active(polib.pofile(str(copy / PO.relative_to(BASE))))}
    committed = {key(e) for e in active(polib.pofile(str(PO)))}
    missing = sorted(m for _, m, _ in fresh - committed)
    gone = sorted(m for _, m, _ in committed - fresh)
    assert missing == [], f"not in the catalogue (run makemessages): {missing[:20]}"
    assert gone == [], f"no longer in the code (run makemessages): {gone[:20]}"


def test_every_translation_keeps_the_placeholders_of_its_message() -> None:
    """msgfmt's own check: a translation with other %-placeholders than its message would fail
    (or show the wrong value) when the page fills it in."""
    checked = subprocess.run(
        ["msgfmt", "--check-format", "--output-file=/dev/null", str(PO)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
