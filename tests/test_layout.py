"""The package has no import circles: no module imports another that imports it back, counting
imports inside functions too (they hide a circle until the day one moves to the top)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in SRC.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        graph[name] = {module for module in imported if module in modules and module != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[str]:
    def reachable(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph[module])
        return seen

    return sorted(name for name in graph if name in reachable(name))


def test_no_module_imports_itself_back():
    assert circles(import_graph()) == []


def test_the_check_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c"]


def test_gsm8k_borrows_nothing_from_wordle():
    """A second task stands beside Wordle: what both need (generation, loading, intervals, reward
    plumbing) lives outside either."""
    borrowed = {
        (name, module)
        for name, imported in import_graph().items()
        if name.startswith("rft.gsm8k")
        for module in imported
        if module.startswith("rft.wordle") or module == "rft.evaluation"
    }
    assert borrowed == set()


def test_the_bottom_floor_imports_nothing_of_ours():
    """The machine's facts, fetching and checking shipped weights, and replacing files whole sit on
    the bottom floor: every layer may use them."""
    graph = import_graph()
    assert graph["rft.runtime"] == graph["rft.weights"] == graph["rft.files"] == set()


# The floors, bottom first: a module imports only from its own floor or below. Arrows point down:
# entry points -> front doors (loading, evaluation, export, the recipe) -> training -> tasks ->
# generation and rewards -> runtime.
FLOORS = [
    ("runtime", ("rft.runtime", "rft.weights", "rft.files", "rft.checks", "rft.stats")),
    (
        "generation",
        ("rft.generation", "rft.prompt_cache", "rft.constrained", "rft.reward_common", "rft.grpo_math"),
    ),
    ("tasks", ("rft.tasks", "rft.wordle", "rft.gsm8k")),
    ("training", ("rft.training",)),
    ("front doors", ("rft.models", "rft.evaluation", "rft.export", "rft.recipe")),
    ("entry points", ("rft.cli", "rft.notebook", "rft.hosting", "rft.terminal", "rft.figures", "rft.tables")),
]


def floor_of(module: str) -> int:
    for number, (_, prefixes) in enumerate(FLOORS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return number
    if module == "rft":
        return 0
    raise AssertionError(f"{module} is on no floor: add it to FLOORS")


def climbing(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{name} ({FLOORS[floor_of(name)][0]}) imports {other} ({FLOORS[floor_of(other)][0]})"
        for name, imported in graph.items()
        for other in imported
        if floor_of(other) > floor_of(name)
    )


def test_no_import_climbs_a_floor():
    assert climbing(import_graph()) == []


def test_the_floor_check_finds_a_climb():
    assert climbing({"rft.training.run": {"rft.models"}, "rft.models": set()}) == [
        "rft.training.run (training) imports rft.models (front doors)"
    ]


def test_training_reaches_a_task_only_through_the_task_interface():
    """Training drives any task through rft.tasks.Task; only the preset machinery (the registry of
    tasks) and the named recipes (their dataset configs) import a task's package."""
    reaching = {
        (name, module)
        for name, imported in import_graph().items()
        if name.startswith("rft.training") and name not in ("rft.training.config", "rft.training.presets")
        for module in imported
        if module.startswith(("rft.wordle", "rft.gsm8k"))
    }
    assert reaching == set()
