"""The documents stay true to the code: every module name they cite resolves, every decision id the code and the
tests cite exists in docs/compatibility.md, and docs, code and tests speak of the product only.

No database and no HTTP: each check reads files and imports modules.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import alephee
from alephee.config import DEFAULT_LIMITS
from alephee.db import Base

ROOT = Path(__file__).resolve().parents[1]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
COMPATIBILITY = ROOT / "docs" / "compatibility.md"

# Top-level modules and subpackages of ``alephee``: a dotted name starting with one of them names our code.
TOP_LEVEL = frozenset(module.name for module in pkgutil.iter_modules(alephee.__path__))
CODE_SPAN = re.compile(r"`([^`\n]+)`")
DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
# File names written with their extension (`config.py`, `data/marketplaces.json`) are paths, not module names.
FILE_SUFFIX = re.compile(r"\.(py|md|json|html|css|js|toml|ini|txt|lock|yaml|yml|mako)$")

# The decision areas of docs/compatibility.md and the contract facts (CF-20.2.4, CF-30.E4).
DECISION_ID = re.compile(r"\b(?:HTTP|ACC|PRD|PRC|STK|LST|ORD|ORW|DOC|MSG|SHP|MKT|SBX|SYNC|WH|PRT)-\d+\b")
FACT_ID = re.compile(r"\bCF-\d\d(?:\.(?:E?\d+))+")
DEFINED_ID = re.compile(r"^\| ((?:[A-Z]+)-\d+) \|", re.M)
DEFINED_FACT = re.compile(r'<a id="(CF-[\w.]+)"></a>')

# A section number of the outside documentation ("spec", two digits, a section): the docs cite contract facts
# (CF ids) instead.
OUTSIDE_SECTION = re.compile(r"\bspec \d\d\b", re.I)

# Words about how the work was organised, never about the product.
PROCESS_WORDS = re.compile(r"\bissue [0-9]|\bsession [0-9]|\bpart [A-D]\b", re.I)
SCANNED_TREES = ("src", "tests", "docs", "bench")
TEXT_SUFFIXES = frozenset({".py", ".md", ".html", ".toml", ".txt", ".json", ".mako", ".ini", ".css", ".js"})

_MISSING = object()


def _code_names(text: str) -> Iterator[str]:
    """Backticked dotted names outside fenced code blocks, without a leading ``alephee.``."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    for span in CODE_SPAN.findall(prose):
        name = span.strip()
        if not DOTTED.fullmatch(name) or FILE_SUFFIX.search(name):
            continue
        name = name.removeprefix("alephee.")
        if name.split(".", 1)[0] in TOP_LEVEL:
            yield name


def _member(obj: Any, name: str) -> Any:
    """An attribute, a pydantic field or a dataclass field of ``obj``."""
    value = getattr(obj, name, _MISSING)
    if value is not _MISSING:
        return value
    for fields in ("model_fields", "__dataclass_fields__"):
        table = getattr(obj, fields, None)
        if isinstance(table, dict) and name in table:
            return table[name]
    return _MISSING


def _resolves(name: str) -> bool:
    """Import the longest module prefix of ``alephee.<name>`` and look the rest up attribute by attribute."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = "alephee." + ".".join(parts[:cut])
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                continue  # that prefix is not a module: try a shorter one
            raise
        for attr in parts[cut:]:
            obj = _member(obj, attr)
            if obj is _MISSING:
                return False
        return True
    return False


def _import_all_models() -> None:
    for module in pkgutil.walk_packages(alephee.__path__, "alephee."):
        if module.name.endswith(".models"):
            importlib.import_module(module.name)


def _not_code(name: str) -> bool:
    """Dotted names that share a first segment with a package but are data: an endpoint of the limits table
    (`orders.list`), a table column (`orders.package_info`) or a standard-library module (`http.client`)."""
    if name in DEFAULT_LIMITS:
        return True
    table, _, column = name.partition(".")
    found = Base.metadata.tables.get(table)
    if found is not None and column in found.columns:
        return True
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def test_module_names_in_the_docs_resolve() -> None:
    _import_all_models()
    stale = [
        f"{path.relative_to(ROOT)}: `{name}`"
        for path in DOCS
        for name in sorted(set(_code_names(path.read_text(encoding="utf-8"))))
        if not _resolves(name) and not _not_code(name)
    ]
    assert stale == [], "names in the docs that no longer exist in the code:\n" + "\n".join(stale)


def _cited(pattern: re.Pattern[str]) -> dict[str, list[str]]:
    cited: dict[str, list[str]] = {}
    for tree in ("src", "tests"):
        for path in sorted((ROOT / tree).rglob("*.py")):
            if path == Path(__file__).resolve():
                continue  # this file names the id patterns in its own comments
            for found in pattern.findall(path.read_text(encoding="utf-8")):
                cited.setdefault(found, []).append(str(path.relative_to(ROOT)))
    return cited


def test_decision_ids_cited_in_code_and_tests_exist() -> None:
    defined = set(DEFINED_ID.findall(COMPATIBILITY.read_text(encoding="utf-8")))
    missing = {found: where for found, where in _cited(DECISION_ID).items() if found not in defined}
    assert missing == {}, f"decision ids cited but not in docs/compatibility.md: {missing}"


def test_contract_fact_ids_cited_in_code_and_tests_exist() -> None:
    defined = set(DEFINED_FACT.findall(COMPATIBILITY.read_text(encoding="utf-8")))
    missing = {found: where for found, where in _cited(FACT_ID).items() if found not in defined}
    assert missing == {}, f"contract facts cited but not in docs/compatibility.md: {missing}"


def test_decision_ids_are_unique() -> None:
    ids = DEFINED_ID.findall(COMPATIBILITY.read_text(encoding="utf-8"))
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_docs_cite_contract_facts_not_outside_section_numbers() -> None:
    """Docs, code and tests cite the contract facts of docs/compatibility.md (CF ids), which the repository
    holds, never section numbers of documents it does not have."""
    code = [path for tree in ("src", "tests", "bench") for path in sorted((ROOT / tree).rglob("*.py"))]
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}"
        for path in [*DOCS, *code]
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if OUTSIDE_SECTION.search(line)
    ]
    assert found == [], "\n".join(found)


def _text_files() -> Iterator[Path]:
    yield ROOT / "README.md"
    for tree in SCANNED_TREES:
        for path in sorted((ROOT / tree).rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES and path != Path(__file__).resolve():
                yield path


@pytest.mark.parametrize("tree", [*SCANNED_TREES, "README.md"])
def test_no_words_about_how_the_work_was_organised(tree: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _text_files()
        if path.relative_to(ROOT).parts[0] == tree
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if PROCESS_WORDS.search(line)
    ]
    assert found == [], "\n".join(found)


def test_every_module_is_in_the_file_map() -> None:
    """docs/architecture.md "Which file holds what" lists every module of the package (a newcomer finds a rule
    from the file names; a new or moved module appears there)."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text[text.index("## Which file holds what") :]
    section = section[: section.index("\n## ", 5)]
    listed = set(re.findall(r"^\| `([\w/]+\.py)` \|", section, re.M))
    package = ROOT / "src" / "alephee"
    modules = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if path.name != "__init__.py" and "migrations" not in path.parts
    }
    assert sorted(modules - listed) == [], "modules missing from the file map"
    assert sorted(listed - modules) == [], "the file map names modules that no longer exist"
