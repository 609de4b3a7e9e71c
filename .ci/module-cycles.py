#!/usr/bin/env python3
"""Fails when a module of src/ imports one that imports it back.

Each file of src/ is a module (`foo/mod.rs` is `foo`). An edge A -> B means
that A's code (comments and `#[cfg(test)] mod tests` left out) names an item
of B: through `crate::`, `super::`, `self::` or a child module's name. Paths
through a module's re-exports (`pub use x::Y`) are followed to where `Y` is
defined, and a module's `pub use` of its own submodules is its public face,
not a dependency: a `mod.rs` that holds docs and re-exports (or `lib.rs`)
depends on nothing through them.

Two checks, both required to pass:
- the graph of files has no cycle;
- at every level of the module tree, the graph of sibling subtrees (each
  child with everything below it) has no cycle, so that two top-level
  modules never depend on each other through their submodules either.

Usage: module-cycles.py [SRC_DIR]   (default: src)
"""

import os
import re
import sys
from collections import defaultdict

SRC = sys.argv[1] if len(sys.argv) > 1 else "src"


def module_of(path):
    rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if rel == ["lib"]:
        return ()
    if rel[-1] == "mod":
        rel = rel[:-1]
    return tuple(rel)


files = {}
for root, _, names in os.walk(SRC):
    for name in names:
        if name.endswith(".rs"):
            path = os.path.join(root, name)
            files[module_of(path)] = path

modules = set(files)


def code_of(path):
    text = open(path, encoding="utf-8").read()
    test = re.search(r"#\[cfg\(test\)\]\s*mod tests\s*\{", text)
    if test:
        text = text[: test.start()]
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("//"):
            continue
        lines.append(re.sub(r'"(\\.|[^"\\])*"', '""', line))
    return "\n".join(lines)


codes = {module: code_of(path) for module, path in files.items()}

# Re-exports: module -> name -> the path it re-exports.
USE = re.compile(r"\bpub(?:\([a-z]+\))?\s+use\s+([^;]+);", re.S)


def expand_use(tree):
    tree = re.sub(r"\s+", "", tree)
    brace = tree.find("{")
    if brace < 0:
        name = tree.split("::")[-1]
        if " as " in tree or "as" in name and False:
            pass
        alias = re.match(r"(.*)as(\w+)$", tree)
        if alias and "::" in alias.group(1):
            return [(alias.group(2), alias.group(1).split("::"))]
        return [(name, tree.split("::"))]
    prefix = tree[:brace].rstrip(":").split("::") if brace else []
    inner = tree[brace + 1 : tree.rfind("}")]
    items, depth, current = [], 0, ""
    for char in inner:
        if char == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        depth += char == "{"
        depth -= char == "}"
        current += char
    items.append(current)
    out = []
    for item in filter(None, items):
        for name, path in expand_use(item):
            out.append((name, prefix + path))
    return out


def absolute(module, segments):
    """Turns a path as written in `module` into one from the crate root."""
    segments = list(segments)
    base = list(module)
    if segments and segments[0] in ("crate", "$crate"):
        return segments[1:]
    if segments and segments[0] == "self":
        return base + segments[1:]
    while segments and segments[0] == "super":
        base = base[:-1]
        segments = segments[1:]
        if not segments or segments[0] != "super":
            return base + segments
    if segments and tuple(base + segments[:1]) in modules:
        return base + segments
    return None


reexports = defaultdict(dict)
for module, code in codes.items():
    for match in USE.finditer(code):
        for name, path in expand_use(match.group(1)):
            target = absolute(module, path)
            if target is not None:
                reexports[module][name] = target


def resolve(path, depth=0):
    """The module defining the item `path` names (a list from the root)."""
    longest = ()
    for i in range(len(path), -1, -1):
        if tuple(path[:i]) in modules:
            longest = tuple(path[:i])
            break
    rest = path[len(longest) :]
    if rest and depth < 16 and rest[0] in reexports.get(longest, {}):
        return resolve(reexports[longest][rest[0]] + rest[1:], depth + 1)
    return longest


PATH = re.compile(r"(?<![\w:])((?:\$?crate|self|super|[a-z_][a-z0-9_]*)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
def is_facade(module, statement):
    """A `pub use` of the module's own descendants: its public face."""
    paths = [absolute(module, path) for _, path in expand_use(statement)]
    return all(
        path is not None and len(path) > len(module) and tuple(path[: len(module)]) == module
        and tuple(path[: len(module) + 1]) in modules
        for path in paths
    )


edges = defaultdict(set)
for module, code in codes.items():
    code = USE.sub(lambda m: "" if is_facade(module, m.group(1)) else m.group(0), code)
    for match in PATH.finditer(code):
        segments = match.group(1).split("::")
        if segments[0] not in ("crate", "$crate", "self", "super") and tuple(
            list(module) + segments[:1]
        ) not in modules:
            continue  # an external crate or a local name
        target = absolute(module, segments)
        if target is None:
            continue
        defined_in = resolve(target)
        if defined_in != module:
            edges[module].add(defined_in)
    # `use` groups: crate::{a::X, b::Y}
    for match in re.finditer(r"\buse\s+([^;]+);", code, re.S):
        for _, path in expand_use(match.group(1)):
            target = absolute(module, path)
            if target is not None:
                defined_in = resolve(target)
                if defined_in != module:
                    edges[module].add(defined_in)


def name(module):
    return "::".join(("crate",) + module)


def cycles(nodes, graph):
    """The strongly connected components of more than one node (Tarjan)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in nodes:
                continue
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return found


failures = []
for component in cycles(modules, edges):
    failures.append("files: " + " <-> ".join(map(name, component)))

for parent in sorted(modules):
    children = {m for m in modules if len(m) == len(parent) + 1 and m[: len(parent)] == parent}
    if len(children) < 2:
        continue
    graph = defaultdict(set)
    for source, targets in edges.items():
        if source[: len(parent)] != parent or len(source) <= len(parent):
            continue
        for target in targets:
            if target[: len(parent)] != parent or len(target) <= len(parent):
                continue
            a, b = source[: len(parent) + 1], target[: len(parent) + 1]
            if a != b:
                graph[a].add(b)
    for component in cycles(children, graph):
        failures.append(f"under {name(parent)}: " + " <-> ".join(map(name, component)))

if failures:
    print("module cycles in " + SRC + ":")
    for failure in failures:
        print("  " + failure)
    sys.exit(1)
edge_count = sum(len(t) for t in edges.values())
print(f"no module cycles in {SRC}: {len(modules)} modules, {edge_count} dependencies")
