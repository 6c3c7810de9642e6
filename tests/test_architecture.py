"""The boundaries that keep breachdash in shape."""
import ast
from pathlib import Path

from breachdash.navigation import ALL_PAGE_FILES

ROOT = Path(__file__).resolve().parent.parent
DATABASE_MODULES = ("sqlmodel", "sqlalchemy", "sqlite3", "psycopg", "breachdash.db", "alembic")


def _imports(path: Path) -> set[str]:
    return _imports_of(path.read_text(encoding="utf-8"))


def test_library_does_not_import_streamlit_outside_its_ui_module():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "breachdash").rglob("*.py")
                 if "ui" not in p.relative_to(ROOT / "breachdash").parts
                 and any(name.split(".")[0] == "streamlit" for name in _imports(p))]
    assert offenders == []


def test_pages_and_app_do_not_touch_the_database_layer():
    files = [ROOT / "app.py", *(ROOT / "pages").glob("*.py")]
    offenders = {str(p.relative_to(ROOT)): sorted(n for n in _imports(p) if n.startswith(DATABASE_MODULES))
                 for p in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_file_in_pages_is_a_registered_page_script():
    on_disk = {f"pages/{p.name}" for p in (ROOT / "pages").iterdir() if p.is_file()}
    assert on_disk == set(ALL_PAGE_FILES)
    for path in on_disk:
        compile((ROOT / path).read_text(encoding="utf-8"), path, "exec")


def test_user_text_is_never_rendered_as_html():
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "breachdash").rglob("*.py")]:
        assert "unsafe_allow_html=True" not in path.read_text(encoding="utf-8"), path


# --- issue 17's boundaries that hold today; each checker also runs on a deliberately broken example

def _private_imports(source: str) -> list[str]:
    """`from breachdash.x import _y`: another module's private name."""
    return [f"{node.module}.{alias.name}" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("breachdash")
            for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]


def _impure_rule_imports(source: str) -> list[str]:
    """A rules module importing the database layer or Streamlit (rules are pure)."""
    imported = _imports_of(source)
    return sorted(n for n in imported if n.startswith(DATABASE_MODULES) or n.split(".")[0] == "streamlit")


def _imports_of(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _library_and_pages() -> list[Path]:
    return [ROOT / "app.py", *(ROOT / "pages").glob("*.py"),
            *(p for p in (ROOT / "breachdash").rglob("*.py") if "migrations" not in p.parts)]


def test_no_module_imports_another_modules_private_names():
    offenders = {str(p.relative_to(ROOT)): found for p in _library_and_pages()
                 if (found := _private_imports(p.read_text(encoding="utf-8")))}
    assert offenders == {}


def test_rules_modules_import_no_database_and_no_streamlit():
    offenders = {str(p.relative_to(ROOT)): found for p in (ROOT / "breachdash").rglob("rules.py")
                 if (found := _impure_rule_imports(p.read_text(encoding="utf-8")))}
    assert offenders == {}


def test_the_checkers_catch_a_deliberately_broken_example():
    broken = ("from sqlmodel import Session\nimport streamlit as st\n"
              "from breachdash.exports import _pdf_document, markdown_cell\n")
    assert _private_imports(broken) == ["breachdash.exports._pdf_document"]
    assert _impure_rule_imports(broken) == ["sqlmodel", "streamlit"]
    assert _private_imports("from breachdash.exports import markdown_cell\n") == []


DOMAINS = ("auth", "audit", "incidents", "timeline", "scope", "comms", "outreach", "obligations", "reviews",
           "remediation", "importers", "reporting")


def _unexplained_function_imports(source: str) -> list[int]:
    """Lines of imports inside functions without a comment just above that names the cycle it
    breaks (a domain's dependencies are read at the top of its module)."""
    lines = source.splitlines()
    found = []
    for function in ast.walk(ast.parse(source)):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    above = lines[node.lineno - 2].strip() if node.lineno >= 2 else ""
                    if not (above.startswith("#") and "cycle" in above):
                        found.append(node.lineno)
    return sorted(set(found))


def test_no_import_inside_a_domain_function_unless_it_breaks_a_named_cycle():
    files = [p for p in (ROOT / "breachdash").rglob("*.py") if p.relative_to(ROOT / "breachdash").parts[0] in DOMAINS]
    files.append(ROOT / "breachdash" / "flows.py")
    offenders = {str(p.relative_to(ROOT)): found for p in files
                 if (found := _unexplained_function_imports(p.read_text(encoding="utf-8")))}
    assert offenders == {}


def test_the_function_import_checker_catches_a_broken_example():
    broken = "def f():\n    from breachdash.comms.service import create_default_plan\n"
    explained = ("def f():\n    # Imported here to break a cycle: comms.service imports flows.\n"
                 "    from breachdash.comms.service import create_default_plan\n")
    assert _unexplained_function_imports(broken) == [2]
    assert _unexplained_function_imports(explained) == []
