"""The documents: the README stays a short manual whose links resolve, and the
configuration tables (docs/configuration.md) agree with config/settings.py and the
API contract.

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
CONFIGURATION = ROOT / "docs" / "configuration.md"
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


CONFIGURATION_ROWS = table_rows(CONFIGURATION.read_text(encoding="utf-8"))
# Contract variables whose feature another issue is building: each must be absent from
# config/settings.py until then (and leaves this list, with its row, when it is read).
PENDING: dict[str, str] = {}


def test_the_parsers_see_the_tables() -> None:
    assert dict(CONFIGURATION_ROWS)["JWT_LIFETIME_SECONDS"]
    assert settings_variables()["JWT_LIFETIME_SECONDS"] == 900
    assert agrees("67108864", 64 * 1024 * 1024)
    assert agrees("on (off in production)", True)
    assert not agrees("3600", 900)


@pytest.mark.parametrize("name", sorted(settings_variables()))
def test_every_setting_has_a_row_with_its_default(name: str) -> None:
    cells = [cell for row_name, cell in CONFIGURATION_ROWS if row_name == name]
    assert cells, f"{name} (config/settings.py) has no row in docs/configuration.md"
    default = settings_variables()[name]
    if default is not None:
        for cell in cells:
            assert agrees(cell, default), f"docs say {name} defaults to {cell!r}, not {default}"


def test_no_variable_has_two_rows() -> None:
    names = [name for name, _ in CONFIGURATION_ROWS]
    assert sorted({name for name in names if names.count(name) > 1}) == []


def contract_or_skip() -> Path:
    """The API contract; a test without it is skipped on a laptop, failed under CI."""
    contract = find_contract()
    if contract is not None:
        return contract
    message = f"../{CONTRACT} not found beside the repository"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_a_missing_contract_fails_under_ci_and_is_skipped_elsewhere(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setattr(f"{__name__}.find_contract", lambda: None)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome):
        contract_or_skip()


def test_every_contract_variable_is_documented_with_the_same_default() -> None:
    rows = table_rows(section(contract_or_skip().read_text(encoding="utf-8"), "Configuration"))
    assert len(rows) >= 20, "the contract's configuration table was not found"
    documented = dict(CONFIGURATION_ROWS)
    defaults = settings_variables()
    missing = sorted(name for name, _ in rows if name not in documented and name not in PENDING)
    assert missing == [], f"in the contract's configuration table, not the docs': {missing}"
    for name, cell in rows:
        default = defaults.get(name)
        if default is not None:
            assert agrees(cell, default), f"the contract says {name}={cell!r}, settings {default}"
            assert agrees(documented[name], default), f"docs: {name}={documented[name]!r}"


def test_a_pending_contract_variable_is_not_read_yet() -> None:
    # Once config/settings.py reads it, it needs its row: take it out of PENDING.
    assert sorted(set(PENDING) & set(settings_variables())) == []


# The README: a manual a newcomer reads in five minutes.

_LINK = re.compile(r"\[[^\]]*\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_readme_is_at_most_8_kb_and_starts_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.encode()) <= 8 * 1024
    first_block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    assert [line.split()[:2] for line in first_block.splitlines()] == [
        ["make", "run"],
        ["make", "test"],
    ]


@pytest.mark.parametrize(
    "document",
    [README, *sorted((ROOT / "docs").rglob("*.md"))],
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_every_relative_link_resolves(document: Path) -> None:
    targets = [t for t in _LINK.findall(document.read_text(encoding="utf-8")) if "://" not in t]
    broken = [t for t in targets if not (document.parent / t).exists()]
    assert broken == [], f"{document.relative_to(ROOT)} links to nothing: {broken}"
