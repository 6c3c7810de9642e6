"""The boundaries that keep breachdash in shape."""
import ast
from pathlib import Path

from breachdash.navigation import ALL_PAGE_FILES

ROOT = Path(__file__).resolve().parent.parent
DATABASE_MODULES = ("sqlmodel", "sqlalchemy", "sqlite3", "psycopg", "breachdash.db", "alembic")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


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
