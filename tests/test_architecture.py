"""The shape of the code (ARCHITECTURE.md), checked by walking the syntax trees.

- engine/ decides: standard library (minus clocks, randomness, threads, sockets, files, OS and
  logging) + msgspec only; no ``async``; no ``open()``, ``print()``, ``datetime.now()``-style
  clock reads.
- web/ talks to the engine through ``actors.handle`` only (plus the exchange port's types).
- actors/ never imports web/ or ops/.
- every file stays small; every message is frozen, keyword-only and tagged; every actor module
  says what it owns, receives, sends and how it fails.
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "actors", "web", "ops", "tests")
MAX_LINES = 400
# Files allowed past MAX_LINES, each with the reason it cannot be split sensibly.
LONG_FILE_ALLOWLIST: dict[str, str] = {}

ENGINE_FORBIDDEN_STDLIB = {
    "time", "random", "secrets", "uuid", "sqlite3", "socket", "ssl", "select", "selectors",
    "signal", "threading", "multiprocessing", "concurrent", "asyncio", "subprocess", "os",
    "pathlib", "shutil", "tempfile", "glob", "io", "urllib", "http", "logging", "importlib",
}
ENGINE_ALLOWED_THIRD_PARTY = {"msgspec", "engine"}
ENGINE_FORBIDDEN_CALLS = {"open", "print", "input", "eval", "exec", "__import__", "breakpoint"}
CLOCK_READS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "time_ns"}
WEB_ALLOWED_ACTORS = {"actors.handle", "actors.exchange.port"}
# Structs living in a messages.py that are not messages, with the reason.
NOT_MESSAGES = {
    ("engine/group/messages.py", "Step"): "the reducer's return value, never sent on a channel",
}
# actors/ modules that hold no actor and no state: contracts and pure translation helpers.
ACTOR_DOCSTRING_EXEMPT = {
    "actors/exchange/port.py": "the exchange port: a Protocol and value types, no task",
    "actors/exchange/ccxt_convert.py": "pure functions: ccxt dicts -> port value types",
    "actors/exchange/ccxt_errors.py": "pure functions: ccxt exceptions -> port errors",
    "actors/exchange/ccxt_markets.py": "pure functions: ccxt markets -> MarketRules",
}
DOCSTRING_WORDS = ("Owns", "Receives", "Sends", "Fails")


def _files(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py")
                  if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imports(tree: ast.Module) -> list[tuple[int, str]]:
    """Absolute module names imported anywhere in the file (function bodies included)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            # ``from actors import store`` imports the submodule ``actors.store``
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def test_engine_imports_only_stdlib_and_msgspec():
    problems = []
    for path in _files("engine"):
        for line, name in _imports(_tree(path)):
            top = name.split(".")[0]
            stdlib = top in sys.stdlib_module_names
            if (stdlib and top in ENGINE_FORBIDDEN_STDLIB) or (
                    not stdlib and top not in ENGINE_ALLOWED_THIRD_PARTY):
                problems.append(f"{_rel(path)}:{line} imports {name}")
    assert problems == []


def test_engine_has_no_async_io_or_clock_reads():
    problems = []
    for path in _files("engine"):
        for node in ast.walk(_tree(path)):
            where = f"{_rel(path)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, (ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith)):
                problems.append(f"{where} uses async")
            elif isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) and func.id in ENGINE_FORBIDDEN_CALLS:
                    problems.append(f"{where} calls {func.id}()")
                elif isinstance(func, ast.Attribute) and func.attr in CLOCK_READS:
                    problems.append(f"{where} reads the clock: .{func.attr}()")
    assert problems == []


def test_web_talks_to_actors_through_the_handle_only():
    problems = []
    for path in _files("web"):
        for line, name in _imports(_tree(path)):
            top = name.split(".")[0]
            if top == "actors" and not any(name == a or name.startswith(a + ".")
                                           for a in WEB_ALLOWED_ACTORS):
                # ``from actors import handle`` yields both "actors" and "actors.handle"
                if name != "actors":
                    problems.append(f"{_rel(path)}:{line} imports {name}")
            elif top in ("ops", "sqlite3", "sqlite_utils", "ccxt"):
                problems.append(f"{_rel(path)}:{line} imports {name}")
    assert problems == []


def test_actors_do_not_import_web_or_ops():
    problems = [f"{_rel(path)}:{line} imports {name}"
                for path in _files("actors") for line, name in _imports(_tree(path))
                if name.split(".")[0] in ("web", "ops")]
    # the root serves the web app: the one sanctioned edge from actors/ to web/
    problems = [p for p in problems if not (p.startswith("actors/runtime/root.py:")
                                            and p.split(" imports ")[1].startswith("web.app"))]
    assert problems == []


def test_files_stay_small():
    too_long = []
    for path in _files(*PACKAGES):
        lines = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        if lines > MAX_LINES and _rel(path) not in LONG_FILE_ALLOWLIST:
            too_long.append(f"{_rel(path)}: {lines} non-empty lines")
    assert too_long == []


def _keywords(node: ast.ClassDef) -> dict[str, object]:
    return {k.arg: (k.value.value if isinstance(k.value, ast.Constant) else None)
            for k in node.keywords if k.arg}


def _is_struct_base(base: ast.expr, local_structs: set[str]) -> bool:
    if isinstance(base, ast.Attribute):
        return base.attr == "Struct" and isinstance(base.value, ast.Name) \
            and base.value.id == "msgspec"
    return isinstance(base, ast.Name) and (base.id == "Struct" or base.id in local_structs)


def _annotation_names(node: ast.ClassDef) -> set[str]:
    return {n.id for stmt in node.body if isinstance(stmt, ast.AnnAssign)
            for n in ast.walk(stmt.annotation) if isinstance(n, ast.Name)}


def test_messages_are_frozen_keyword_only_and_tagged():
    """Every Struct in a messages.py is frozen and keyword-only; every one that is not merely a
    payload value inside another message of the same file (a field type there) is tagged."""
    files = [p for p in _files("engine") if p.name == "messages.py"]
    problems = []
    for path in files:
        local: set[str] = set()
        classes = [n for n in _tree(path).body if isinstance(n, ast.ClassDef)]
        structs = []
        for node in classes:
            if any(_is_struct_base(b, local) for b in node.bases):
                local.add(node.name)
                structs.append(node)
        payloads = set().union(*(_annotation_names(n) for n in structs)) & local
        for node in structs:
            keywords = _keywords(node)
            wanted = ["frozen", "kw_only"]
            if node.name not in payloads and (_rel(path), node.name) not in NOT_MESSAGES:
                wanted.append("tag")
            missing = [k for k in wanted if keywords.get(k) is not True]
            if missing:
                problems.append(f"{_rel(path)}:{node.lineno} {node.name} lacks "
                                + ", ".join(f"{k}=True" for k in missing))
    assert problems == []


@pytest.mark.parametrize("path", [p for p in _files("actors") if p.name != "__init__.py"],
                         ids=_rel)
def test_actor_modules_state_owns_receives_sends_fails(path: Path):
    if _rel(path) in ACTOR_DOCSTRING_EXEMPT:
        return
    doc = ast.get_docstring(_tree(path)) or ""
    missing = [w for w in DOCSTRING_WORDS if w not in doc]
    assert missing == [], f"{_rel(path)} docstring lacks {', '.join(missing)}"


def test_allowlists_name_existing_files():
    # an allowlist entry outliving its file would silently widen the rules
    for rel in [*LONG_FILE_ALLOWLIST, *ACTOR_DOCSTRING_EXEMPT, *(f for f, _ in NOT_MESSAGES)]:
        assert (ROOT / rel).exists(), rel


# -- the shape of actors/ -------------------------------------------------------------------------
def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph(*packages: str) -> dict[str, set[str]]:
    """Module -> the project modules it imports: every import statement counts, those under
    ``if TYPE_CHECKING:`` and inside functions included. ``from pkg import mod`` is an edge to
    ``pkg.mod`` when that is a module (a package's own ``__init__`` runs first in any case)."""
    modules = {_module_name(p): p for p in _files(*packages)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(_tree(path)):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                subs = [f"{node.module}.{a.name}" for a in node.names]
                found = [s for s in subs if s in modules]
                targets = found + ([node.module] if len(found) < len(subs) else [])
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_no_import_cycles_not_even_through_type_checking_imports():
    assert _cycles(_import_graph("engine", "actors", "web", "ops")) == []


def test_the_cycle_check_sees_type_checking_imports():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


# Which actors/ subpackage may import which, each edge with its reason. A new edge is a design
# decision: add it here with why. ``handle`` is actors/handle.py, the web's one door.
SUBPACKAGE_DEPENDENCIES: dict[str, dict[str, str]] = {
    "store": {
        "exchange": "schema.py gathers the paper exchange's tables (SQL text)",
        "market": "schema.py gathers the price bars table (SQL text)",
        "settings": "a backup archive carries engine.toml",
        "runtime": "a restore takes the data directory's lock",
    },
    "exchange": {"store": "the paper exchange keeps its books in engine.db",
                 "runtime": "the paper exchange's fills follow the engine clock"},
    "group": {"store": "a group records its steps before acting",
              "analytics": "a close updates the roll-ups in the same transaction"},
    "orders": {"exchange": "the gateway is the one road to the exchange port",
               "store": "orders rows are recorded before sending"},
    "pool": {"group": "the pool starts and commands group actors",
             "market": "routing reads the latest price", "store": "inbox and queue rows"},
    "reconcile": {"exchange": "it compares our records with the exchange",
                  "store": "it books what it finds"},
    "market": {"exchange": "prices and rules come from the exchange",
               "settings": "the public market data endpoints are configured",
               "store": "market rules and price bars are cached"},
    "risk": {"market": "the risk cycle reads fresh prices", "store": "risk actions rows",
             "pool": "groups are found in the GroupDirectory"},
    "read": {"group": "read models decode the group's recorded state",
             "analytics": "the Performance answers sum the analytics roll-ups",
             "pool": "the queue's stored payloads", "runtime": "log lines' fields",
             "store": "read-only queries"},
    "settings": {"exchange": "the exchange connection test", "store": "users, config versions",
                 "runtime": "the connection test builds a port on the engine clock"},
    "analytics": {"store": "roll-ups and snapshots live in engine.db"},
    "runtime": {"*": "the root and the engine core wire every actor"},
    "handle": {"*": "the web's one door reaches every service it serves"},
}


def _subpackage(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "actors" or len(parts) < 2:
        return None
    return parts[1].removesuffix(".py")


def test_actors_subpackages_import_only_what_their_layer_allows():
    problems = []
    for module, targets in _import_graph("actors").items():
        source = _subpackage(module)
        allowed = SUBPACKAGE_DEPENDENCIES.get(source, {})
        for target in targets:
            dest = _subpackage(target)
            if dest in (None, source) or "*" in allowed or dest in allowed:
                continue
            problems.append(f"{module} imports {target}: {source}/ may not depend on {dest}/")
    assert problems == []


def test_every_actors_subpackage_says_what_it_owns():
    for init in sorted((ROOT / "actors").glob("*/__init__.py")):
        doc = ast.get_docstring(_tree(init)) or ""
        missing = [w for w in ("Owns", "Receives", "Sends") if w not in doc]
        assert missing == [], f"{_rel(init)} docstring lacks {', '.join(missing)}"
