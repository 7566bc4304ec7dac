"""scripts/i18n: extract the portal's messages and merge them into each catalog.

``extract()`` is also what the test suite runs to check that the committed template and
catalogs are up to date and every message is translated.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "gateway" / "web"
POT = WEB / "locale" / "messages.pot"
LOCALES = ("en_US", "en_GB", "es")
KEYWORDS = {"_": None, "N_": None, "gettext": None}


def extract() -> Catalog:
    """Every message in the portal's Python and templates, as a template catalog."""
    with (WEB / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    catalog = Catalog(project="Portico", version="1", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(locale: str) -> Path:
    return WEB / "locale" / locale / "LC_MESSAGES" / "messages.po"


def write(catalog: Catalog, path: Path) -> None:
    catalog.fuzzy = False  # the header: translators' edits are reviewed in the diff
    buf = io.BytesIO()
    write_po(buf, catalog, omit_header=False, sort_output=True, width=100, include_lineno=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def update() -> None:
    template = extract()
    write(template, POT)
    for locale in LOCALES:
        path = po_path(locale)
        if path.exists():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=locale)
        else:
            catalog = Catalog(locale=locale, project="Portico", version="1", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        write(catalog, path)
        missing = sum(1 for m in catalog if m.id and not m.string)
        print(f"{locale}: {len(template)} messages, {missing} untranslated")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("command", choices=["update"])
    p.parse_args()
    update()


if __name__ == "__main__":
    sys.exit(main())
