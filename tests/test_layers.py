"""The import layering of the project's packages, read from the source with `ast` (nothing is imported).

Bottom to top:

- core: the model's plain building blocks (`CORE` below); they import each other and third-party code only;
- agents: `agents.*`, on top of core;
- model: `model.race` and `model.processes.*`, on top of core and agents;
- outer: `report.*`, `sweeps.*`, `viz.*`, `calibration.*`, on top of all of the above; sideways only as in `OUTER_SIDEWAYS`;
- top: `run.py` and `browser.*` (the browser's front end), which may import anything.

Besides the layers: project packages are imported at module level (except in `run.py`, whose commands import
lazily so `run.py --help` starts fast), and no private name crosses from one project package into another.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKED_DIRS = ("model", "agents", "report", "sweeps", "viz", "calibration", "browser")
CHECKED_FILES = ("run.py",)
PROJECT_PACKAGES = frozenset({"model", "agents", "report", "sweeps", "viz", "calibration", "browser", "run"})

CORE = frozenset({
    "model", "model.params", "model.scenario", "model.ledger", "model.market", "model.positions", "model.schema",
    "model.start", "model.finite", "model.outcomes", "model.schedules", "model.errors",
})
CORE_LAYER, AGENTS_LAYER, MODEL_LAYER, OUTER_LAYER, TOP_LAYER = range(5)
LAYER_NAMES = {CORE_LAYER: "core", AGENTS_LAYER: "agents", MODEL_LAYER: "model", OUTER_LAYER: "outer", TOP_LAYER: "top"}
# The sideways imports between the outer packages that the code makes today (importer, imported); any other
# pair (say report -> viz, report -> sweeps, sweeps -> viz, viz -> sweeps) is a violation.
OUTER_SIDEWAYS = frozenset({("sweeps", "report"), ("viz", "report"), ("calibration", "sweeps")})


@dataclass(frozen=True)
class Import:
    path: str  # the importing file, relative to the project root, e.g. "agents/firm.py"
    line: int
    source: str  # the importing module, e.g. "agents.firm"
    target: str  # the imported module, resolved to absolute, e.g. "model.market"
    name: str | None  # the name taken by `from target import name`; None for `import target`
    in_function: bool
    text: str  # the import statement as written

    def where(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


def module_name(path: str) -> str:
    """"model/processes/entry.py" -> "model.processes.entry"; "model/__init__.py" -> "model"."""
    parts = list(Path(path).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: str) -> bool:
    return Path(path).name == "__init__.py"


def is_module(name: str, root: Path) -> bool:
    """Whether the dotted name is a module or package of the project (on disk under `root`)."""
    base = root.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def resolve_relative(module: str | None, level: int, source: str, package: bool) -> str:
    """The absolute module named by `from <level dots><module> import ...` written in module `source`."""
    parts = source.split(".")
    if not package:  # a plain module's own package is its parent
        parts = parts[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, *([module] if module else [])])


def collect_imports(text: str, path: str, root: Path = ROOT) -> list[Import]:
    """Every import of a project module in one file's source, with relative imports made absolute.

    `from package import name` is recorded as an import of `package.name` when that is a module of the project
    (so `from model import market` counts as importing `model.market`, not the bare `model` package).
    """
    tree = ast.parse(text, filename=path)
    source = module_name(path)
    lines = text.splitlines()
    found: list[Import] = []

    def statement(node: ast.stmt) -> str:
        snippet = ast.get_source_segment(text, node) or lines[node.lineno - 1]
        return " ".join(snippet.split())

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] in PROJECT_PACKAGES:
                        found.append(Import(path, child.lineno, source, alias.name, None, in_function, statement(child)))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = resolve_relative(child.module, child.level, source, is_package(path))
                if base.split(".")[0] in PROJECT_PACKAGES:
                    for alias in child.names:
                        sub = f"{base}.{alias.name}"
                        target = sub if alias.name != "*" and is_module(sub, root) else base
                        found.append(Import(path, child.lineno, source, target, alias.name, in_function,
                                            statement(child)))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return found


def layer(module: str) -> int | None:
    """The layer of a project module; None if the module is in no layer (a new module: add it here)."""
    top = module.split(".")[0]
    if module in CORE:
        return CORE_LAYER
    if top == "agents":
        return AGENTS_LAYER
    if module == "model.race" or module == "model.processes" or module.startswith("model.processes."):
        return MODEL_LAYER
    if top in ("report", "sweeps", "viz", "calibration"):
        return OUTER_LAYER
    if module == "run" or top == "browser":
        return TOP_LAYER
    return None


def layer_violations(imports: list[Import]) -> list[str]:
    problems = []
    for imp in imports:
        have, want = layer(imp.source), layer(imp.target)
        if have is None or want is None:
            unknown = imp.source if have is None else imp.target
            problems.append(f"{imp.where()}  ({unknown!r} is in no layer: add it to tests/test_layers.py)")
        elif want > have:
            problems.append(f"{imp.where()}  ({LAYER_NAMES[have]} {imp.source} imports {LAYER_NAMES[want]} "
                            f"{imp.target}, a layer above)")
        elif have == want == OUTER_LAYER:
            pair = (imp.source.split(".")[0], imp.target.split(".")[0])
            if pair[0] != pair[1] and pair not in OUTER_SIDEWAYS:
                problems.append(f"{imp.where()}  ({pair[0]} -> {pair[1]} is not an allowed sideways import; "
                                f"allowed: {sorted(OUTER_SIDEWAYS)})")
    return problems


def function_import_violations(imports: list[Import]) -> list[str]:
    return [f"{imp.where()}  (project import inside a function in {imp.source})"
            for imp in imports if imp.in_function and imp.source != "run"]


def private_name_violations(imports: list[Import]) -> list[str]:
    problems = []
    for imp in imports:
        names = [imp.name] if imp.name is not None else imp.target.split(".")
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if private and imp.source.split(".")[0] != imp.target.split(".")[0]:
            problems.append(f"{imp.where()}  (private {', '.join(private)} taken from another package by "
                            f"{imp.source})")
    return problems


def checked_files() -> list[str]:
    files = [p for d in CHECKED_DIRS for p in sorted((ROOT / d).rglob("*.py"))]
    files += [ROOT / f for f in CHECKED_FILES]
    return [p.relative_to(ROOT).as_posix() for p in files]


def project_imports() -> list[Import]:
    imports: list[Import] = []
    for path in checked_files():
        imports += collect_imports((ROOT / path).read_text(encoding="utf-8"), path)
    return imports


def report(problems: list[str], rule: str) -> str:
    return f"{len(problems)} import(s) break the rule: {rule}\n  " + "\n  ".join(problems)


def test_checker_sees_the_project() -> None:
    """Guards the tests below from passing by checking nothing: the files and their imports are found."""
    files = checked_files()
    assert {"run.py", "model/race.py", "agents/firm.py", "report/tables.py", "sweeps/sweep.py", "viz/plots.py",
            "model/processes/entry.py"} <= set(files)
    imports = project_imports()
    targets = {(imp.source, imp.target) for imp in imports}
    assert ("model.race", "agents.firm") in targets
    assert ("agents.firm", "model.market") in targets  # `from model import market` resolves to the module
    assert ("run", "model.race") in targets  # run.py's lazy imports inside functions are seen
    assert len(imports) > 100


def test_no_import_from_a_higher_layer() -> None:
    problems = layer_violations(project_imports())
    assert not problems, report(problems, "no module imports a layer above its own (core < agents < model < "
                                          "outer < run.py; outer sideways only " + str(sorted(OUTER_SIDEWAYS)) + ")")


def test_project_imports_at_module_level() -> None:
    problems = function_import_violations(project_imports())
    assert not problems, report(problems, "project packages are imported at module level (only run.py imports "
                                          "lazily inside its command functions)")


def test_no_private_names_across_packages() -> None:
    problems = private_name_violations(project_imports())
    assert not problems, report(problems, "no private (_name) is imported from another project package")


def test_checker_catches_violations() -> None:
    agents_src = "from model.race import AIRaceModel\nfrom model import market\nimport model.processes.entry\n"
    report_src = (
        "from model.race import _private\n"
        "from viz.plots import save_figure\n"
        "from sweeps import sweep\n"
        "def write():\n"
        "    import json\n"
        "    from model.race import AIRaceModel\n"
        "    return AIRaceModel\n"
    )
    core_src = "from . import race\nfrom .ledger import FirmLedger\nfrom ..report.tables import MARKET\n"
    run_src = "def main():\n    from model.race import AIRaceModel\n    from viz.plots import save_figure\n"
    agents = collect_imports(agents_src, "agents/fake.py")
    reports = collect_imports(report_src, "report/fake.py")
    core = collect_imports(core_src, "model/start.py")
    run = collect_imports(run_src, "run.py")

    assert [imp.target for imp in core] == ["model.race", "model.ledger", "report.tables"]  # relative imports

    layers = layer_violations(agents + reports + core + run)
    assert [p.split("  ")[0] for p in layers] == [
        "agents/fake.py:1: from model.race import AIRaceModel",
        "agents/fake.py:3: import model.processes.entry",
        "report/fake.py:2: from viz.plots import save_figure",
        "report/fake.py:3: from sweeps import sweep",
        "model/start.py:1: from . import race",
        "model/start.py:3: from ..report.tables import MARKET",
    ]
    assert "model.start" in layers[4] and "a layer above" in layers[4]

    nested = function_import_violations(agents + reports + core + run)
    assert [p.split("  ")[0] for p in nested] == ["report/fake.py:6: from model.race import AIRaceModel"]

    private = private_name_violations(agents + reports + core + run)
    assert [p.split("  ")[0] for p in private] == ["report/fake.py:1: from model.race import _private"]
    same_package = collect_imports("from model.ledger import _helper\n", "model/processes/fake.py")
    assert private_name_violations(same_package) == []
