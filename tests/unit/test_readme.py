"""The README's configuration tables agree with config/settings.py and the API contract.

Defaults are read from the source of config/settings.py (not from the loaded
settings, which the test environment overrides), and compared where they are a
plain number or an on/off switch.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SETTINGS = ROOT / "config" / "settings.py"
CONTRACT = Path("shared") / "API-CONTRACT.md"

# How settings.py reads a variable: the helper, and where its default is.
_READERS = {"_env_int", "_env_bool", "_env_choice", "_env_list"}
_NAME = re.compile(r"`([A-Z][A-Z0-9_]+)`")
_NUMBER = re.compile(r"\d[\d,]*")


def _default(node: ast.expr) -> int | bool | None:
    """A default that is a plain number or boolean (64 * 1024 included); None otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, bool | int):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        left, right = _default(node.left), _default(node.right)
        if isinstance(left, int) and isinstance(right, int):
            return left * right
    return None


def settings_variables() -> dict[str, int | bool | None]:
    """Every environment variable config/settings.py reads, with its plain default if any."""
    found: dict[str, int | bool | None] = {}
    for node in ast.walk(ast.parse(SETTINGS.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in _READERS:
            found[first.value] = _default(node.args[1]) if len(node.args) > 1 else None
        elif (
            isinstance(func, ast.Attribute)
            and func.attr == "get"
            and ast.unparse(func.value) == "os.environ"
            and first.value.isupper()
        ):
            # os.environ.get("NAME", ...): strings and paths, never compared.
            found.setdefault(first.value, None)
    return found


def table_rows(markdown: str) -> list[tuple[str, str]]:
    """(variable, default cell) for each variable of each `| variable | default |` table."""
    rows: list[tuple[str, str]] = []
    in_table = False
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            in_table = False
        elif cells[:2] == ["variable", "default"]:
            in_table = True
        elif in_table and not set(cells[0]) <= set("-: "):
            names = _NAME.findall(cells[0])
            defaults = [part.strip() for part in cells[1].split(",")]
            if len(names) > 1 and len(defaults) == len(names):
                rows.extend(zip(names, defaults, strict=True))
            else:
                rows.extend((name, cells[1]) for name in names)
    return rows


def section(markdown: str, heading: str) -> str:
    """The text of the ``## heading`` section, up to the next ``## `` heading."""
    start = markdown.index(f"\n## {heading}")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def agrees(cell: str, default: int | bool) -> bool:
    """Whether a README default cell states ``default`` first (``on``/``off`` for switches)."""
    if isinstance(default, bool):
        return cell.split(" ", maxsplit=1)[0].strip("`") == ("on" if default else "off")
    number = _NUMBER.match(cell.strip("`"))
    return number is not None and int(number.group().replace(",", "")) == default


def find_contract() -> Path | None:
    """The shared API contract: beside the repository, or beside its main checkout."""
    candidates = [ROOT.parent / CONTRACT]
    git = ROOT / ".git"
    if git.is_file():  # a worktree: "gitdir: <main>/.git/worktrees/<name>"
        gitdir = ROOT / git.read_text(encoding="utf-8").partition("gitdir:")[2].strip()
        if len(gitdir.parents) > 3:
            candidates.append(gitdir.parents[3] / CONTRACT)
    return next((path for path in candidates if path.is_file()), None)


README_ROWS = table_rows(README.read_text(encoding="utf-8"))
CONFIGURATION_ROWS = table_rows(section(README.read_text(encoding="utf-8"), "Configuration"))


def test_the_parsers_see_the_tables() -> None:
    assert dict(CONFIGURATION_ROWS)["JWT_LIFETIME_SECONDS"]
    assert settings_variables()["JWT_LIFETIME_SECONDS"] == 900
    assert agrees("67108864", 64 * 1024 * 1024)
    assert agrees("on (off in production)", True)
    assert not agrees("3600", 900)


@pytest.mark.parametrize("name", sorted(settings_variables()))
def test_every_setting_has_a_readme_row_with_its_default(name: str) -> None:
    cells = [cell for row_name, cell in README_ROWS if row_name == name]
    assert cells, f"{name} (config/settings.py) has no row in the README's configuration tables"
    default = settings_variables()[name]
    if default is not None:
        for cell in cells:
            assert agrees(cell, default), f"README says {name} defaults to {cell!r}, not {default}"


def test_no_variable_has_two_rows_in_one_table() -> None:
    names = [name for name, _ in CONFIGURATION_ROWS]
    assert sorted({name for name in names if names.count(name) > 1}) == []


def test_every_contract_variable_is_in_the_readme_configuration_with_the_same_default() -> None:
    contract = find_contract()
    if contract is None:
        if os.environ.get("CI"):
            pytest.fail(f"../{CONTRACT} not found beside the repository")
        pytest.skip(f"../{CONTRACT} not found beside the repository")
    rows = table_rows(section(contract.read_text(encoding="utf-8"), "Configuration"))
    assert len(rows) >= 20, "the contract's configuration table was not found"
    readme = dict(CONFIGURATION_ROWS)
    defaults = settings_variables()
    missing = sorted(name for name, _ in rows if name not in readme)
    assert missing == [], f"in the contract's configuration table, not the README's: {missing}"
    for name, cell in rows:
        default = defaults.get(name)
        if default is not None:
            assert agrees(cell, default), f"the contract says {name}={cell!r}, settings {default}"
            assert agrees(readme[name], default), f"README: {name}={readme[name]!r}, not {default}"
