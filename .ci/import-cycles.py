#!/usr/bin/env python3
"""Import cycles among the source files of a Rust crate (`src/`), for CI.

Each file is a module; an edge A -> B means A names something defined in B through a `crate::`,
`super::` or `self::` path. A name reached through a re-export (`pub use child::{Name}` in a
`mod.rs`/`lib.rs`) is followed to the file that defines it, so a re-export hides nothing. A
module's declaration of its own children (`mod x;`, `pub use x::…`) is not a dependency of the
parent on them. Code under `#[cfg(test)] mod tests` is left out (tests may reach anywhere), and so
are comments (a path in an intra-doc link is not an import).

Usage: import-cycles.py SRC_DIR [--report]. Exits 1 and lists each cycle when there is one;
with --report, also prints every file's lines and dependencies.
"""
import os
import re
import sys

src = os.path.abspath(sys.argv[1])
report = "--report" in sys.argv[2:]


def module_of(path):
    parts = os.path.relpath(path, src)[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return tuple(parts)


files = {}
for root, _, names in os.walk(src):
    for name in names:
        if name.endswith(".rs"):
            path = os.path.join(root, name)
            module = module_of(path)
            if module[:1] == ("bin",):
                continue
            text = open(path, encoding="utf-8").read()
            # Leave out the unit tests at the end of a file.
            cut = re.search(r"#\[cfg\((?:all\()?test\b[^\n]*\n\s*mod tests\b", text)
            text = text[: cut.start()] if cut else text
            # Leave out comments and `doc = "…"` attributes: a path in documentation (an
            # intra-doc link) is not an import.
            text = re.sub(r'\bdoc\s*=\s*"(?:[^"\\]|\\.)*"', "", text)
            files[module] = re.sub(r"//[^\n]*", "", text)

# Which names each module re-exports, and from which of its children.
reexports = {}
for module, text in files.items():
    table = {}
    for match in re.finditer(r"pub(?:\([^)]*\))? use (self::)?([a-z_][a-z0-9_]*)::(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)\s*;", text, re.S):
        child = module + (match.group(2),)
        if child not in files:
            continue
        items = match.group(3).strip("{}")
        for item in items.split(","):
            item = item.strip()
            if not item:
                continue
            name = item.split(" as ")[-1].strip().split("::")[-1]
            table[name] = child
    reexports[module] = table


def resolve(segments):
    """The file that defines the item at `segments` (a path from the crate root)."""
    module = ()
    for i, segment in enumerate(segments):
        candidate = module + (segment,)
        if candidate in files:
            module = candidate
            continue
        # Not a module: an item of `module`, possibly re-exported from a child.
        seen = set()
        while segment in reexports.get(module, {}) and module not in seen:
            seen.add(module)
            module = reexports[module][segment]
        return module
    return module


PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\};", re.S)

edges = {module: set() for module in files}


def base_of(module, anchor):
    if anchor == "crate":
        return ()
    if anchor == "super":
        return module[:-1]
    return module


def add(module, anchor, segments):
    target = resolve(base_of(module, anchor) + tuple(segments))
    if target != module and target[: len(module)] != module:
        edges[module].add(target)


for module, text in files.items():
    for anchor, prefix, group in USE_GROUP.findall(text):
        prefix = [s for s in prefix.split("::") if s]
        for item in re.split(r",(?![^{]*\})", group):
            item = re.sub(r"\s+as\s+\w+", "", item.strip())
            if not item:
                continue
            inner = item.split("::{", 1)
            head = [s for s in inner[0].split("::") if s and s != "self"]
            if len(inner) == 2:
                for sub in inner[1].rstrip("}").split(","):
                    sub = [s for s in sub.strip().split("::") if s and s != "self"]
                    add(module, anchor, prefix + head + sub)
            else:
                add(module, anchor, prefix + head)
    for anchor, rest in PATH.findall(USE_GROUP.sub("", text)):
        add(module, anchor, [s for s in rest.split("::") if s])

# Tarjan's strongly connected components.
index, low, stack, on_stack, cycles = {}, {}, [], set(), []
counter = [0]
sys.setrecursionlimit(100000)


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        component = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            component.append(w)
            if w == v:
                break
        if len(component) > 1:
            cycles.append(sorted(component))


for module in sorted(files):
    if module not in index:
        visit(module)


def name(module):
    return "::".join(module) or "crate"


if report:
    for module in sorted(files):
        lines = files[module].count("\n")
        print(f"{name(module):36} {lines:5} lines -> {', '.join(sorted(name(m) for m in edges[module]))}")
print(f"{len(files)} files, {len(cycles)} import cycles")
for component in cycles:
    print("cycle: " + " <-> ".join(name(m) for m in component))
sys.exit(1 if cycles else 0)
