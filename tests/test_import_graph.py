"""The package's import graph, read from the source (no module is imported): no module-level import
circle anywhere in `spiritlm`, and `vocoder/spectral.py` and `vocoder/unit_vocoder.py` no longer
import each other back (only `vocoder/load.py` knows both)."""

from __future__ import annotations

import ast
from pathlib import Path

import spiritlm

PACKAGE = Path(spiritlm.__file__).parent


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _target(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str, top_level_only: bool) -> set[str]:
    """The `spiritlm` modules `module` imports (module level only, or anywhere in the file)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            target = _target(module, path.name == "__init__.py", node)
            for a in node.names:  # `from . import x` names a module when x is one
                out.add(f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target)
    return {m for m in out if m in MODULES and m != module}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every simple cycle found by depth-first search from each node (each reported once, rotated)."""
    found: set[tuple[str, ...]] = set()

    def visit(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt == start:
                i = path.index(min(path))
                found.add(tuple(path[i:] + path[:i]))
            elif nxt not in path and nxt > start:
                visit(start, nxt, path + [nxt])

    for start in sorted(graph):
        visit(start, start, [start])
    return [list(c) for c in sorted(found)]


def test_the_reader_sees_the_imports_it_should():
    assert "spiritlm.vocoder.spectral" in MODULES and "spiritlm.speech.bundle" in MODULES
    assert imports("spiritlm.vocoder.load", True) >= {"spiritlm.vocoder.spectral", "spiritlm.vocoder.unit_vocoder"}
    assert imports("spiritlm.vocoder.spectral", True) == {"spiritlm.checkpoints", "spiritlm.vocoder.unit_vocoder"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_spectral_and_unit_vocoder_do_not_import_each_other_back():
    assert "spiritlm.vocoder.spectral" not in imports("spiritlm.vocoder.unit_vocoder", top_level_only=False)
    assert "spiritlm.vocoder.load" not in imports("spiritlm.vocoder.unit_vocoder", top_level_only=False)
    assert "spiritlm.vocoder.load" not in imports("spiritlm.vocoder.spectral", top_level_only=False)


def test_no_module_level_import_circle_in_the_package():
    assert cycles({m: imports(m, top_level_only=True) for m in MODULES}) == []


def test_the_speech_parts_do_not_import_each_other_back():
    """Each part's door needs only its own module (and the shared helpers): pitch, style, hubert and the
    quantizer never import one another, and only the bundle and the tokenizer's factories gather them."""
    parts = ["spiritlm.speech.pitch", "spiritlm.speech.style", "spiritlm.speech.hubert", "spiritlm.speech.quantizer"]
    for part in parts:
        assert not imports(part, top_level_only=False) & set(parts) - {part}, part
