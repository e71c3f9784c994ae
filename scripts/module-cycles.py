#!/usr/bin/env python3
"""Fails when the modules of any crate under crates/ depend on each other in a cycle.

An edge runs from a module to the module a `crate::…` or `super::…` path names, in a `use`
item or inline in code, outside `#[cfg(test)]` items. A path is resolved to the longest module
it names (`crate::remote::service::Handler` is the module `remote::service`), and an edge from
a module to itself is not one. A cycle is a strongly connected group of two or more modules;
each is printed with the lines that make it, and the exit status is 1.

Usage: scripts/module-cycles.py [CRATE_DIR...]   (default: every crate in crates/)
       scripts/module-cycles.py --self-test        (shows that a cycle is found, and only one)
"""

import re
import sys
import tempfile
from pathlib import Path

PATH = re.compile(r"\b(crate|super)((?:::\w+)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super)((?:::\w+)*)::\{")
CFG_TEST = re.compile(r"#\[cfg\((?:all\()?test\b")


def module_of(root: Path, file: Path) -> tuple:
    """The module path of a source file: src/a/b.rs and src/a/b/mod.rs are ("a", "b")."""
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


def strip_test_items(source: str) -> str:
    """The source without `#[cfg(test)]` items (a `mod tests { … }` or a single item), without
    comments and without string literals, so that only code is read."""
    source = re.sub(r"//[^\n]*", "", source)
    source = re.sub(r'r#*"(?:.|\n)*?"#*|"(?:\\.|[^"\\])*"', '""', source)
    out, position = [], 0
    for match in CFG_TEST.finditer(source):
        if match.start() < position:
            continue
        out.append(source[position : match.start()])
        end = source.find(";", match.end())
        brace = source.find("{", match.end())
        if brace != -1 and (end == -1 or brace < end):
            depth, index = 0, brace
            while index < len(source):
                if source[index] == "{":
                    depth += 1
                elif source[index] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                index += 1
            end = index
        position = end + 1
    out.append(source[position:])
    return "".join(out)


def resolve(module: tuple, anchor: str, segments: list, modules: set) -> tuple:
    """The longest known module that `anchor::segments` names from `module`."""
    if anchor == "crate":
        base = ()
    else:
        base = module[:-1]
        while segments and segments[0] == "super":
            segments = segments[1:]
            base = base[:-1]
    target = base
    for segment in segments:
        if target + (segment,) in modules:
            target = target + (segment,)
        else:
            break
    return target


def edges_of(root: Path) -> dict:
    """Every edge between the modules of one crate, with the lines that make it."""
    files = {module_of(root, file): file for file in sorted(root.rglob("*.rs"))}
    modules = set(files)
    edges = {}
    for module, file in files.items():
        code = strip_test_items(file.read_text())
        paths = [(m.group(1), m.group(2)) for m in PATH.finditer(code)]
        for group in USE_GROUP.finditer(code):
            # `use super::{a, b::C}`: each member names a module below the group's path.
            body = code[group.end() : code.find("}", group.end())]
            for member in re.findall(r"\b\w+(?:::\w+)*", body):
                paths.append((group.group(1), group.group(2) + "::" + member))
        for anchor, rest in paths:
            target = resolve(module, anchor, rest.strip(":").split("::"), modules)
            if target != module:
                edges.setdefault(module, {}).setdefault(target, set()).add(file.name)
    return edges


def cycles(edges: dict) -> list:
    """The strongly connected groups of two or more modules (Tarjan's algorithm)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in list(edges):
        if node not in index:
            visit(node)
    return groups


def name(module: tuple) -> str:
    return "::".join(("crate",) + module)


def self_test() -> int:
    """Runs the check on a made-up crate: `a ↔ b` is a cycle (one edge through a `use` group,
    one inline), `c → a` is not one, since `a` uses `c` only in its test module."""
    files = {
        "lib.rs": "mod a;\nmod b;\nmod c;\nmod d;\n",
        "a.rs": "use crate::{b::Thing, d};\n#[cfg(test)]\nmod tests {\n    use crate::c::Other;\n}\n",
        "d.rs": "",
        "b.rs": "// crate::c is only named in a comment\npub fn f() { crate::a::g(); }\n",
        "c.rs": "use super::a::g;\n",
    }
    with tempfile.TemporaryDirectory() as root:
        src = Path(root) / "src"
        src.mkdir()
        for name, text in files.items():
            (src / name).write_text(text)
        edges = edges_of(src)
        found = cycles(edges)
    expected_edges = {("a",): {("b",), ("d",)}, ("b",): {("a",)}, ("c",): {("a",)}}
    actual_edges = {source: set(targets) for source, targets in edges.items()}
    if found != [[("a",), ("b",)]] or actual_edges != expected_edges:
        print(f"self-test failed: cycles {found}, edges {actual_edges}")
        return 1
    print("self-test: the cycle a ↔ b is found, and nothing else")
    return 0


def main() -> int:
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    crates = [Path(arg) for arg in sys.argv[1:]] or sorted(Path("crates").glob("*/"))
    failed = False
    for crate in crates:
        edges = edges_of(crate / "src")
        for group in cycles(edges):
            failed = True
            print(f"{crate.name}: module cycle: {' ↔ '.join(name(m) for m in group)}")
            for source in group:
                for target in sorted(edges.get(source, {})):
                    if target in group:
                        print(f"  {name(source)} → {name(target)}")
    if failed:
        print("each module must depend only on modules that do not depend on it back")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
