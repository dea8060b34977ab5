"""The documentation cannot drift from the code: each provider's page lists exactly the fields of its
options dataclass (with their defaults), and every relative link in the README and docs/ leads to a
file, and a heading, that exists."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from django.utils.module_loading import import_string

from django_oneclick.testing import FAKES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PROVIDER_PAGES = DOCS / "providers"

#: Each built-in provider by the name its page has (docs/providers/<name>.md) and the BACKEND a shop
#: configures: the class is imported the way the registry imports it.
BACKENDS = {
    "sandbox": "django_oneclick.providers.sandbox.SandboxProvider",
    "digitalriver": "django_oneclick.providers.digitalriver.DigitalRiverProvider",
    "billerix": "django_oneclick.providers.billerix.BillerixProvider",
    "twocheckout": "django_oneclick.providers.twocheckout.TwoCheckoutProvider",
    "rye": "django_oneclick.providers.rye.RyeProvider",
    "firmly": "django_oneclick.providers.firmly.FirmlyProvider",
}

OPTIONS_HEADING = "Options"
#: A row of an options table: | `NAME` | default | meaning |
OPTION_ROW = re.compile(r"^\|\s*`(?P<name>[A-Z][A-Z0-9_]*)`\s*\|(?P<default>[^|]*)\|(?P<meaning>.*)\|\s*$")
FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$", re.MULTILINE)


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def without_code(text: str) -> str:
    """The text outside fenced blocks and inline code (where a link or a heading is only an example)."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def section(text: str, title: str) -> str:
    """The lines under the level-2 heading ``title``, up to the next heading of level 1 or 2."""
    lines = FENCE.sub("", text).splitlines()
    try:
        start = lines.index(f"## {title}") + 1
    except ValueError:
        return ""
    end = next((i for i in range(start, len(lines)) if re.match(r"^#{1,2}\s", lines[i])), len(lines))
    return "\n".join(lines[start:end])


def options_table(page: Path) -> dict[str, tuple[str, str]]:
    """Option name -> (default cell, meaning cell) of the page's options table; a name twice fails."""
    rows: dict[str, tuple[str, str]] = {}
    for line in section(page.read_text(encoding="utf-8"), OPTIONS_HEADING).splitlines():
        if match := OPTION_ROW.match(line):
            name = match["name"]
            assert name not in rows, f"{page.name}: option {name} is documented twice"
            rows[name] = (match["default"].strip(), match["meaning"].strip())
    return rows


def slug(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for match in HEADING.finditer(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(match["title"])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def documents(default: object, field: dataclasses.Field) -> bool:
    """Whether a table's default cell says what the dataclass's default is."""
    cell = default if isinstance(default, str) else ""
    value = field.default
    if field.metadata.get("required"):
        return cell == "required"
    if isinstance(value, bool):
        return cell == f"`{str(value).lower()}`"
    if isinstance(value, int | float):
        try:
            return float(cell.strip("`")) == float(value)
        except ValueError:
            return False
    if value == "":
        return cell.startswith("empty")
    return cell == f"`{value}`"


# --- each provider's options, documented once, on its page -----------------------------------------


def test_every_built_in_provider_has_a_page():
    assert set(BACKENDS) == {"sandbox", *FAKES}
    assert {page.stem for page in PROVIDER_PAGES.glob("*.md")} == set(BACKENDS)


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_the_options_table_names_exactly_the_dataclass_fields(name):
    provider = import_string(BACKENDS[name])
    fields = {field.name for field in dataclasses.fields(provider.options_class)}
    documented = set(options_table(PROVIDER_PAGES / f"{name}.md"))
    assert documented, f"docs/providers/{name}.md has no '## {OPTIONS_HEADING}' table"
    assert documented == fields, (
        f"docs/providers/{name}.md: undocumented {sorted(fields - documented)}, "
        f"not options {sorted(documented - fields)}"
    )


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_the_options_table_gives_each_default_and_secret(name):
    provider = import_string(BACKENDS[name])
    table = options_table(PROVIDER_PAGES / f"{name}.md")
    for field in dataclasses.fields(provider.options_class):
        if field.name not in table:
            continue  # reported by the test above
        default, meaning = table[field.name]
        assert documents(default, field), f"{name} {field.name}: the table says {default!r}, the code {field.default!r}"
        secret = bool(field.metadata.get("secret"))
        assert ("Secret" in meaning) == secret, f"{name} {field.name}: say 'Secret' exactly for secret options"


def test_no_other_page_documents_provider_options():
    """Option tables live on the provider pages only: each option is documented once."""
    for page in markdown_files():
        if page.parent != PROVIDER_PAGES:
            assert not options_table(page), f"{page.relative_to(ROOT)} has an options table"


# --- links --------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", markdown_files(), ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_leads_somewhere(page):
    broken = []
    for match in LINK.finditer(without_code(page.read_text(encoding="utf-8"))):
        target = match["target"]
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:
            continue  # an absolute URL: not checked offline
        path = unquote(parts.path)
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif parts.fragment and destination.suffix == ".md" and parts.fragment not in anchors(destination):
            broken.append(f"{target}: no such heading")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"
