"""Where a page's headers live, so a quiz answer or a glossary entry can link to the section that shows it.

A page that draws one section at a time declares `SECTIONS = {"name": function, ...}` and a Param whose
choices are `tuple(SECTIONS)` (app_pages/inference.py, app_pages/transformer.py, ...). A link to such a page opens
the right section with that Param: ('Fine-tuning', 'QLoRA: LoRA on a 4-bit base') -> {'f_section': 'QLoRA'}.
The page files are read as source (parsed, not run: a page runs Streamlit when imported), and each section's
headers are collected from the function it names: a function of the page file, or `module.render` of a
ui/ package module (the whole module's headers).

    section_choice('Fine-tuning', 'Memory') -> 'Full FT vs LoRA'
"""
import ast
import functools
from pathlib import Path

from core.content.home import PAGE_FILES

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def _tree(file: str) -> ast.Module:
    return ast.parse((ROOT / file).read_text(encoding="utf-8"))


def _headers(node: ast.AST) -> frozenset[str]:
    """Literal texts of the st.header / st.subheader calls under `node`."""
    return frozenset(n.args[0].value for n in ast.walk(node)
                     if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                     and n.func.attr in ("header", "subheader") and n.args and isinstance(n.args[0], ast.Constant)
                     and isinstance(n.args[0].value, str))


@functools.cache
def page_sections(page: str) -> tuple[str, dict[str, frozenset[str]]] | None:
    """(the section Param's key, {section name: the headers it draws}), or None for a page drawn in one piece."""
    tree = _tree(PAGE_FILES[page])
    sections = next((n.value for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Dict)
                     and any(getattr(t, "id", None) == "SECTIONS" for t in n.targets)), None)
    if sections is None:
        return None
    key = next((n.args[0].value for n in ast.walk(tree) if isinstance(n, ast.Call)
                and getattr(n.func, "id", None) == "Param" and n.args and isinstance(n.args[0], ast.Constant)
                and any(k.arg == "choices" and ast.unparse(k.value) == "tuple(SECTIONS)" for k in n.keywords)), None)
    if key is None:
        return None
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    modules = {alias.asname or alias.name: f"{n.module.replace('.', '/')}/{alias.name}.py"
               for n in tree.body if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("ui.")
               for alias in n.names}
    table = {}
    for name, target in zip(sections.keys, sections.values):
        if isinstance(target, ast.Name) and target.id in functions:
            headers = _headers(functions[target.id])
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id in modules:
            headers = _headers(_tree(modules[target.value.id]))
        else:
            headers = frozenset()
        table[name.value] = headers
    return key, table


def section_choice(page: str, section: str) -> str | None:
    """The section name that shows `section` (a section name itself, or a header drawn in one); None if the page
    is drawn in one piece or no section draws it."""
    found = page_sections(page)
    if found is None or not section:
        return None
    _, table = found
    if section in table:
        return section
    return next((name for name, headers in table.items() if section in headers), None)


def section_params(page: str, section: str) -> dict[str, str] | None:
    """URL parameters that open `page` at `section`: {'f_section': 'QLoRA'}; None where no parameter is needed."""
    choice = section_choice(page, section)
    return None if choice is None else {page_sections(page)[0]: choice}
