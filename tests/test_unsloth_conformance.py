"""The project's calls into Unsloth, checked against the source of the Unsloth release the notebooks pin.

Unsloth cannot be imported without a GPU, so the code paths that call it (``rft.training.policy``'s
Unsloth loader, ``rft.export``'s GGUF export, the notebooks on Colab) never run in CI. A renamed
keyword or a removed method would only show on someone's GPU, minutes into a run. This test reads
the wheel of the pinned release (``unsloth==...`` in requirements.txt) as text, never importing it,
and checks every call the project's source makes into it against the real function definitions:

* calls ``FastLanguageModel.<method>(...)`` / ``FastModel.<method>(...)`` (and any other name the
  project imports from ``unsloth``), found by walking the project's own syntax trees;
* calls of the methods Unsloth attaches to loaded models (``model.save_pretrained_gguf(...)`` and
  its siblings), found by reading where ``unsloth/save.py`` attaches them.

For each call the method must exist, each keyword must be a parameter (or, where the function takes
``**kwargs``, be consumed by name or accepted by a function inside the wheel it forwards them to),
and the positional arguments must fit. A keyword whose ``**kwargs`` leave the wheel (to transformers,
say) cannot be verified: it is accepted and listed in the printed report (``pytest -rP``).
Decorators are assumed to pass the arguments through, which is what Unsloth's do.

The wheel comes from ``RFT_UNSLOTH_WHEELS`` (a folder holding it) or is downloaded once with pip into
the user cache; so does ``unsloth_zoo``'s, at the version Unsloth requires, when a check follows a
forward into it. Without the package index the test is skipped, except under ``CI``, where it fails.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PROJECT_SOURCES = ("src/rft/**/*.py", "notebooks/*.py", "benchmarks/*.py")

# Names that mean Unsloth's loaders even where a file reaches them without a visible import.
ENTRY_CLASSES = ("FastLanguageModel", "FastModel")
# What unsloth/__init__.py star-imports on a CUDA machine, where the notebooks run: the checked
# definitions must be the ones reached from it (not the Apple-MLX or CPU stand-ins of the same names).
GPU_MODULE = "unsloth._gpu_init"
# The module whose assignments attach Unsloth's extra methods to every model it loads.
SAVE_MODULE = "unsloth.save"
# Calls the project makes today: the walk must find them, or it is broken and would pass on nothing.
KNOWN_CALLS = (
    "FastLanguageModel.from_pretrained",
    "FastLanguageModel.get_peft_model",
    "<model>.save_pretrained_gguf",
)


# ---------------------------------------------------------------------------------------------------
# Obtaining the wheels


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(message: str) -> None:
    """CI has the package index, so a missing wheel there is a failure; elsewhere it is a skip."""
    if _ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def pinned_version(name: str, requirements: Path = ROOT / "requirements.txt") -> str:
    """The ``name==X`` pin the notebooks install."""
    for line in requirements.read_text().splitlines():
        match = re.match(rf"^{re.escape(name)}\s*==\s*([^\s;#]+)", line.strip(), re.IGNORECASE)
        if match:
            return match[1]
    raise AssertionError(f"requirements.txt pins no {name}==<version>")


def _find_wheel(folder: Path, dist: str, version: str) -> Path | None:
    normal = re.sub(r"[-_.]+", "_", dist).lower()
    for wheel in sorted(folder.glob("*.whl")) if folder.is_dir() else ():
        parts = wheel.name.split("-")
        if (
            len(parts) >= 5
            and parts[0].lower() == normal
            and parts[1] == version
            and zipfile.is_zipfile(wheel)
        ):
            return wheel
    return None


_DOWNLOAD_FAILED: dict[str, str] = {}  # dist==version -> why, so a second test does not wait again


def obtain_wheel(dist: str, version: str) -> Path:
    """The wheel of ``dist==version``: from ``RFT_UNSLOTH_WHEELS`` as given, else cached or downloaded."""
    if f"{dist}=={version}" in _DOWNLOAD_FAILED:
        _unavailable(_DOWNLOAD_FAILED[f"{dist}=={version}"])
    given = os.environ.get("RFT_UNSLOTH_WHEELS")
    folder = Path(given) if given else Path(platformdirs.user_cache_dir("rft")) / "wheels"
    wheel = _find_wheel(folder, dist, version)
    if wheel is None and given:
        _unavailable(f"RFT_UNSLOTH_WHEELS={given} holds no {dist} {version} wheel")
    if wheel is None:
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        command += ["--disable-pip-version-check", f"{dist}=={version}", "-d", str(folder)]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
            errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
            why = f"exit status {result.returncode}: {' '.join(errors or result.stderr.splitlines()[-1:])}"
        except (OSError, subprocess.TimeoutExpired) as error:
            why = str(error)
        wheel = _find_wheel(folder, dist, version)
        if wheel is None:
            message = f"could not download the {dist}=={version} wheel ({' '.join(command)}): {why}"
            _DOWNLOAD_FAILED[f"{dist}=={version}"] = message
            _unavailable(message)
    assert wheel is not None
    return wheel


def required_version(wheel: Path, dist: str) -> str:
    """The version of ``dist`` that ``wheel`` asks for (its ``==``, or the lower bound of its range)."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(metadata).decode().splitlines()
    for line in lines:
        if not line.startswith("Requires-Dist:"):
            continue
        requirement = Requirement(line.partition(":")[2].strip())
        if re.sub(r"[-_.]+", "_", requirement.name).lower() == re.sub(r"[-_.]+", "_", dist).lower():
            for spec in requirement.specifier:
                if spec.operator in ("==", "===", ">=", "~="):
                    return spec.version
    raise AssertionError(f"{wheel.name} does not require a version of {dist}")


# ---------------------------------------------------------------------------------------------------
# Reading the wheel's modules without importing them

OPAQUE = "opaque"  # bound to something outside the wheel or not statically known


@dataclass(frozen=True)
class Func:
    """A function definition, and how many leading parameters the way it is reached binds (self, cls)."""

    module: str
    path: str
    node: ast.FunctionDef | ast.AsyncFunctionDef
    binding: str = "plain"  # "plain", "static" or "class"
    skip: int = 0

    @property
    def where(self) -> str:
        return f"{self.path}:{self.node.lineno}"


@dataclass(frozen=True)
class Klass:
    module: str
    path: str
    node: ast.ClassDef


@dataclass(frozen=True)
class Module:
    name: str


Value = Func | Klass | Module | str  # str: OPAQUE


def _decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    return {d.id if isinstance(d, ast.Name) else getattr(d, "attr", "") for d in node.decorator_list}


def _function(module: str, path: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> Func:
    names = _decorator_names(node)
    binding = "static" if "staticmethod" in names else "class" if "classmethod" in names else "plain"
    return Func(module, path, node, binding)


def _statements(body: list[ast.stmt], fallback: bool = False) -> Iterator[tuple[ast.stmt, bool]]:
    """A module's (or class's) statements in source order, into ``if``/``try``/``with`` blocks;
    ``fallback`` marks those in ``except`` handlers, used only when nothing else binds the name."""
    for statement in body:
        yield statement, fallback
        if isinstance(statement, ast.If):
            yield from _statements(statement.body, fallback)
            yield from _statements(statement.orelse, fallback)
        elif isinstance(statement, ast.With):
            yield from _statements(statement.body, fallback)
        elif isinstance(statement, ast.Try) or type(statement).__name__ == "TryStar":
            yield from _statements(statement.body, fallback)  # type: ignore[attr-defined]
            yield from _statements(statement.orelse, fallback)  # type: ignore[attr-defined]
            yield from _statements(statement.finalbody, fallback)  # type: ignore[attr-defined]
            for handler in statement.handlers:  # type: ignore[attr-defined]
                yield from _statements(handler.body, True)


class WheelSource:
    """The Python modules of one or more wheels, parsed on demand, with Python's name binding rules
    approximated: the last binding of a name in a module wins, ``except`` handlers only as fallback."""

    def __init__(self, wheels: list[Path], lazy: dict[str, Callable[[], Path]] | None = None) -> None:
        self._files: dict[str, tuple[Path, str]] = {}
        self._trees: dict[str, ast.Module] = {}
        self._lookups: dict[tuple[str, str], Value | None] = {}
        self._busy: set[tuple[str, str]] = set()
        self._lazy = dict(lazy or {})
        self._attached: dict[str, dict[str, list[Func]]] = {}
        for wheel in wheels:
            self._add(wheel)

    def _add(self, wheel: Path) -> None:
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                parts = name.split("/")
                if name.endswith(".py") and parts[0].isidentifier():
                    dotted = ".".join(parts)[: -len(".py")].removesuffix(".__init__")
                    self._files[dotted] = (wheel, name)

    def has(self, module: str) -> bool:
        top = module.partition(".")[0]
        if top in self._lazy:
            self._add(self._lazy.pop(top)())
        return module in self._files

    def path(self, module: str) -> str:
        return self._files[module][1]

    def tree(self, module: str) -> ast.Module:
        if module not in self._trees:
            wheel, name = self._files[module]
            with zipfile.ZipFile(wheel) as archive:
                self._trees[module] = ast.parse(archive.read(name), filename=name)
        return self._trees[module]

    def _absolute(self, module: str, level: int, name: str | None) -> str:
        if not level:
            return name or ""
        package = module if self._files[module][1].endswith("__init__.py") else module.rpartition(".")[0]
        for _ in range(level - 1):
            package = package.rpartition(".")[0]
        return f"{package}.{name}" if name else package

    def lookup(self, module: str, name: str) -> Value | None:
        """What ``name`` is bound to at the top level of ``module``; None when nothing binds it."""
        key = (module, name)
        if key in self._lookups:
            return self._lookups[key]
        if key in self._busy or not self.has(module):
            return None
        self._busy.add(key)
        try:
            found: Value | None = None
            fallback: Value | None = None
            for statement, in_handler in _statements(self.tree(module).body):
                value = self._binding(module, statement, name)
                if value is None:
                    continue
                if in_handler:
                    fallback = fallback or value
                else:
                    found = value
            result = found or fallback
        finally:
            self._busy.discard(key)
        self._lookups[key] = result
        return result

    def _import(self, module: str, level: int, source: str | None, attribute: str) -> Value:
        target = self._absolute(module, level, source)
        if not self.has(target):
            return OPAQUE
        value = self.lookup(target, attribute)
        if value is None and self.has(f"{target}.{attribute}"):
            return Module(f"{target}.{attribute}")
        return value or OPAQUE

    def _binding(self, module: str, statement: ast.stmt, name: str) -> Value | None:
        """What ``statement`` binds ``name`` to, or None if it does not bind it."""
        path = self.path(module)
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef) and statement.name == name:
            return _function(module, path, statement)
        if isinstance(statement, ast.ClassDef) and statement.name == name:
            return Klass(module, path, statement)
        if isinstance(statement, ast.ImportFrom):
            for alias in statement.names:
                if alias.name == "*":
                    target = self._absolute(module, statement.level, statement.module)
                    if self._exports(target, name):
                        return self.lookup(target, name)
                elif (alias.asname or alias.name) == name:
                    return self._import(module, statement.level, statement.module, alias.name)
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                bound = alias.asname or alias.name.partition(".")[0]
                if bound == name:
                    target = alias.name if alias.asname else bound
                    return Module(target) if self.has(target) else OPAQUE
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id == name:
                    return self.evaluate(module, statement.value)
                if isinstance(target, ast.Tuple | ast.List) and any(
                    isinstance(t, ast.Name) and t.id == name for t in target.elts
                ):
                    return OPAQUE
        return None

    def _exports(self, module: str, name: str) -> bool:
        """Whether ``from module import *`` binds ``name``."""
        if not self.has(module):
            return False
        for statement in self.tree(module).body:
            if (
                isinstance(statement, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in statement.targets)
                and isinstance(statement.value, ast.List | ast.Tuple)
            ):
                return name in {e.value for e in statement.value.elts if isinstance(e, ast.Constant)}
        return not name.startswith("_")

    def evaluate(self, module: str, expression: ast.expr, scope: dict[str, Value] | None = None) -> Value:
        """What ``expression`` names, read in ``module`` (and a function's local imports, ``scope``)."""
        if isinstance(expression, ast.Name):
            if scope and expression.id in scope:
                return scope[expression.id]
            return self.lookup(module, expression.id) or OPAQUE
        if isinstance(expression, ast.Attribute):
            owner = self.evaluate(module, expression.value, scope)
            if isinstance(owner, Module):
                value = self.lookup(owner.name, expression.attr)
                if value is None and self.has(f"{owner.name}.{expression.attr}"):
                    return Module(f"{owner.name}.{expression.attr}")
                return value or OPAQUE
            if isinstance(owner, Klass):
                member = self.member(owner, expression.attr)
                return member if member is not None else OPAQUE
            return OPAQUE
        if (
            isinstance(expression, ast.Call)
            and isinstance(expression.func, ast.Name)
            and expression.func.id in ("staticmethod", "classmethod")
            and len(expression.args) == 1
        ):
            inner = self.evaluate(module, expression.args[0], scope)
            if isinstance(inner, Func):
                return Func(inner.module, inner.path, inner.node, expression.func.id.replace("method", ""))
        return OPAQUE

    def member(self, klass: Klass, name: str, seen: frozenset[int] = frozenset()) -> Value | None:
        """``klass.name`` as read on the class: the definition, OPAQUE when a base outside the wheel
        might define it, None when the class and all its bases are known and none defines it."""
        found: Value | None = None
        for statement, _ in _statements(klass.node.body):
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef) and statement.name == name:
                found = _function(klass.module, klass.path, statement)
                if "property" in _decorator_names(statement):
                    found = OPAQUE
            elif isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
                targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                    found = self.evaluate(klass.module, statement.value)
        if found is not None:
            if isinstance(found, Func):
                skip = 1 if found.binding == "class" else 0  # reached through the class, not an instance
                return Func(found.module, found.path, found.node, found.binding, skip)
            return found
        unknown_base = False
        for base in klass.node.bases:
            resolved = self.evaluate(klass.module, base)
            if isinstance(resolved, Klass) and id(resolved.node) not in seen:
                value = self.member(resolved, name, seen | {id(klass.node)})
                if value is not None:
                    return value
            elif not (isinstance(base, ast.Name) and base.id == "object"):
                unknown_base = True
        return OPAQUE if unknown_base else None

    def local_scope(self, func: Func) -> dict[str, Value]:
        """The names a function imports inside its own body."""
        scope: dict[str, Value] = {}
        for node in ast.walk(func.node):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name != "*":
                        value = self._import(func.module, node.level, node.module, alias.name)
                        scope[alias.asname or alias.name] = value
        return scope


def attached_methods(source: WheelSource, module: str = SAVE_MODULE) -> dict[str, list[Func]]:
    """Memoised :func:`find_attached_methods`."""
    if module not in source._attached:
        source._attached[module] = find_attached_methods(source, module)
    return source._attached[module]


def find_attached_methods(source: WheelSource, module: str) -> dict[str, list[Func]]:
    """The methods ``module`` attaches to models: ``x.name = _bind_saving_method(func, x, ...)`` or
    ``types.MethodType(func, x)``. Names Unsloth first keeps as ``x.original_* = x.name`` only wrap a
    transformers/PEFT method every model has (``save_pretrained``, ``push_to_hub``) and are left out:
    the project calls those on models Unsloth never saw."""
    found: dict[str, list[Func]] = {}
    wrapped: set[str] = set()
    for node in ast.walk(source.tree(module)):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target, value = node.targets[0], node.value
        if not isinstance(target, ast.Attribute):
            continue
        if target.attr.startswith("original_") and isinstance(value, ast.Attribute):
            wrapped.add(value.attr)
        if (
            isinstance(value, ast.Call)
            and (getattr(value.func, "id", None) or getattr(value.func, "attr", None))
            in ("_bind_saving_method", "MethodType")
            and value.args
        ):
            func = source.evaluate(module, value.args[0])
            if isinstance(func, Func):
                bound = Func(func.module, func.path, func.node, "bound", 1)
                if bound not in found.setdefault(target.attr, []):
                    found[target.attr].append(bound)
    return {name: funcs for name, funcs in found.items() if name not in wrapped}


# ---------------------------------------------------------------------------------------------------
# Where a function's **kwargs go


@dataclass
class Fate:
    """Where a keyword that lands in a ``**kwargs`` dict goes: consumed by name somewhere (``accepted``),
    handed to code the checker cannot follow (``escapes``), or neither (dropped or rejected)."""

    accepted: str | None = None
    escapes: list[str] = field(default_factory=list)


def _parameters(func: Func) -> tuple[list[str], list[str], list[str]]:
    """(positional parameters after those bound, positional-only names, keyword-capable names)."""
    arguments = func.node.args
    positional = [a.arg for a in arguments.posonlyargs + arguments.args][func.skip :]
    posonly = [a.arg for a in arguments.posonlyargs]
    by_keyword = [name for name in positional if name not in posonly] + [a.arg for a in arguments.kwonlyargs]
    return positional, posonly, by_keyword


def _uses(node: ast.AST, name: str) -> Iterator[tuple[ast.Name, ast.AST]]:
    """Each read of ``name`` below ``node`` with its parent node, not entering functions that rebind it."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            arguments = child.args
            every = arguments.posonlyargs + arguments.args + arguments.kwonlyargs
            every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
            if any(a.arg == name for a in every):
                continue
        if isinstance(child, ast.Name) and child.id == name and isinstance(child.ctx, ast.Load):
            yield child, node
        else:
            yield from _uses(child, name)


def _parents(root: ast.AST) -> dict[int, ast.AST]:
    return {id(child): node for node in ast.walk(root) for child in ast.iter_child_nodes(node)}


def dict_fate(
    source: WheelSource,
    func: Func,
    parameter: str,
    key: str,
    seen: set[tuple[str, int, str, str]] | None = None,
) -> Fate:
    """Follow the dict ``parameter`` of ``func`` through its body to decide whether ``key`` in it is used."""
    seen = set() if seen is None else seen
    marker = (func.path, func.node.lineno, parameter, key)
    fate = Fate()
    if marker in seen:
        return fate
    seen.add(marker)
    scope = source.local_scope(func)
    parents = _parents(func.node)

    def escape(node: ast.AST, why: str) -> None:
        line = getattr(node, "lineno", func.node.lineno)
        fate.escapes.append(f"{func.path}:{line} {why}: {ast.unparse(node)[:90]}")

    def follow(call: ast.Call, into: Callable[[Func], str | None]) -> None:
        callee = source.evaluate(func.module, call.func, scope)
        if isinstance(callee, Klass):
            init = source.member(callee, "__init__")
            callee = Func(init.module, init.path, init.node, "bound", 1) if isinstance(init, Func) else OPAQUE
        if not isinstance(callee, Func):
            escape(call, "handed to code outside the wheel")
            return
        name = into(callee)
        if name is None:
            return
        if name == "**" and key in _parameters(callee)[2]:
            fate.accepted = fate.accepted or f"{callee.where} ({callee.node.name})"
            return
        if name == "**":
            if callee.node.args.kwarg is None:
                return  # this path would raise TypeError: not an acceptance
            name = callee.node.args.kwarg.arg
        inner = dict_fate(source, callee, name, key, seen)
        fate.accepted = fate.accepted or inner.accepted
        fate.escapes += inner.escapes

    uses = [use for statement in func.node.body for use in _uses(statement, parameter)]
    for use, parent in uses:
        grand = parents.get(id(parent))
        if isinstance(parent, ast.keyword) and isinstance(grand, ast.Call):
            if parent.arg is None:
                follow(grand, lambda callee: "**")
            else:
                keyword = parent.arg
                follow(grand, lambda callee, k=keyword: k if k in _parameters(callee)[2] else None)
        elif isinstance(parent, ast.Call) and use in parent.args:
            index = parent.args.index(use)
            if any(isinstance(a, ast.Starred) for a in parent.args[:index]):
                escape(parent, "passed after *args")
                continue

            def positional(callee: Func, index: int = index, call: ast.Call = parent) -> str | None:
                names = _parameters(callee)[0]
                if index < len(names):
                    return names[index]
                escape(call, "passed into *args")
                return None

            follow(parent, positional)
        elif (
            isinstance(parent, ast.Attribute)
            and isinstance(grand, ast.Call)
            and grand.func is parent
            and parent.attr in ("get", "pop", "setdefault", "__contains__")
        ):
            first = grand.args[0] if grand.args else None
            if isinstance(first, ast.Constant):
                if first.value == key:
                    fate.accepted = fate.accepted or f"{func.where} ({func.node.name}: {ast.unparse(grand)})"
            else:
                escape(grand, "looked up by a computed name")
        elif isinstance(parent, ast.Attribute) and parent.attr in ("update", "clear"):
            continue
        elif isinstance(parent, ast.Subscript) and parent.value is use:
            if not isinstance(parent.ctx, ast.Load):
                continue  # writing or deleting an entry reads none
            if not isinstance(parent.slice, ast.Constant):
                escape(parent, "read by a computed name")
            elif parent.slice.value == key:
                fate.accepted = fate.accepted or f"{func.where} ({func.node.name}: {ast.unparse(parent)})"
        elif isinstance(parent, ast.Compare):
            membership = [
                isinstance(op, ast.In | ast.NotIn) and right is use
                for op, right in zip(parent.ops, parent.comparators)
            ]
            if not any(membership):
                continue  # `kwargs is None` and the like compare the dict, passing nothing on
            if not isinstance(parent.left, ast.Constant):
                escape(parent, "tested for a computed name")
            elif parent.left.value == key:
                fate.accepted = fate.accepted or f"{func.where} ({func.node.name}: {ast.unparse(parent)})"
        elif (isinstance(parent, ast.If | ast.While | ast.IfExp) and parent.test is use) or isinstance(
            parent, ast.UnaryOp
        ):
            continue  # only its truth is read
        else:
            escape(parent, "used as a whole")
    return fate


# ---------------------------------------------------------------------------------------------------
# Checking the calls


@dataclass(frozen=True)
class Finding:
    where: str  # the project's file:line
    call: str  # e.g. FastLanguageModel.from_pretrained
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.call}: {self.message}"


@dataclass
class Report:
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (where, call, Unsloth definition)
    errors: list[Finding] = field(default_factory=list)
    unverified: list[Finding] = field(default_factory=list)
    skipped: list[Finding] = field(default_factory=list)
    verified: Counter[str] = field(default_factory=Counter)  # call -> arguments matched to a parameter

    def summary(self) -> str:
        lines = [f"{len(self.calls)} calls into Unsloth:"]
        lines += [f"  {where}: {call} -> {target}" for where, call, target in self.calls]
        for title, findings in (
            ("ERRORS", self.errors),
            ("unverified (accepted)", self.unverified),
            ("not checkable (skipped)", self.skipped),
        ):
            if findings:
                lines.append(f"{title}:")
                lines += [f"  {finding}" for finding in findings]
        return "\n".join(lines)


def check_arguments(
    source: WheelSource, call: ast.Call, func: Func, where: str, label: str, report: Report
) -> None:
    """Bind the call's arguments to ``func``'s parameters the way Python would, as far as the source shows."""
    positional, posonly, by_keyword = _parameters(func)
    arguments = func.node.args
    starred = any(isinstance(a, ast.Starred) for a in call.args)
    given = [a for a in call.args if not isinstance(a, ast.Starred)]
    defaults = len(arguments.defaults)
    every_positional = [a.arg for a in arguments.posonlyargs + arguments.args]
    optional = set(every_positional[len(every_positional) - defaults :]) if defaults else set()
    target = f"{func.node.name} at {func.where}"

    def error(message: str) -> None:
        report.errors.append(Finding(where, label, f"{message} (Unsloth: {target})"))

    if len(given) > len(positional) and arguments.vararg is None:
        error(f"{len(given)} positional arguments, but it takes at most {len(positional)}")
    else:
        report.verified[label] += len(given) if not starred else 0
    filled = set(positional[: len(given)])
    named: set[str] = set()
    for keyword in call.keywords:
        if keyword.arg is None:
            report.skipped.append(Finding(where, label, f"**{ast.unparse(keyword.value)} cannot be checked"))
            continue
        named.add(keyword.arg)
        if keyword.arg in filled and keyword.arg not in posonly:
            error(f"{keyword.arg!r} is given both positionally and by keyword")
        elif keyword.arg in by_keyword:
            report.verified[label] += 1
        elif arguments.kwarg is None:
            error(f"no parameter {keyword.arg!r}; it takes {', '.join(by_keyword) or 'no keywords'}")
        else:
            fate = dict_fate(source, func, arguments.kwarg.arg, keyword.arg)
            if fate.accepted:
                report.verified[label] += 1
            elif fate.escapes:
                escapes = "; ".join(fate.escapes[:4]) + ("; ..." if len(fate.escapes) > 4 else "")
                report.unverified.append(
                    Finding(
                        where,
                        label,
                        f"{keyword.arg!r} is no named parameter of {target}; it goes into "
                        f"**{arguments.kwarg.arg}, which nothing in the wheel reads by that name, and which "
                        f"reach code the checker cannot follow: {escapes}",
                    )
                )
            else:
                error(f"{keyword.arg!r} goes into **{arguments.kwarg.arg}, and nothing reads it by that name")
    if not starred and not any(k.arg is None for k in call.keywords):
        required = [p for p in positional[len(given) :] if p not in optional and p not in named]
        required += [
            a.arg
            for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults)
            if d is None and a.arg not in named
        ]
        if required:
            error(f"missing required argument(s) {', '.join(required)}")


def _entry_names(tree: ast.Module) -> tuple[dict[str, tuple[str, str]], set[str]]:
    """Names bound to something in ``unsloth`` (name -> (module, attribute)), and module aliases of it."""
    names = {name: ("unsloth", name) for name in ENTRY_CLASSES}
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "unsloth":
            for alias in node.names:
                names[alias.asname or alias.name] = (node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "unsloth":
                    modules.add(alias.asname or "unsloth")
    return names, modules


def check_source(source: WheelSource, text: str, filename: str, report: Report) -> None:
    """Find and check every call ``text`` makes into Unsloth."""
    tree = ast.parse(text, filename=filename)
    names, modules = _entry_names(tree)
    methods = attached_methods(source)
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        where = f"{filename}:{call.lineno}"
        function = call.func
        owner: Value | None = None
        if isinstance(function, ast.Name) and function.id in names and function.id not in ENTRY_CLASSES:
            label = function.id
            resolved: Value | None = source.lookup(*names[function.id])
        elif isinstance(function, ast.Attribute):
            label = f"{ast.unparse(function.value)}.{function.attr}"
            base = function.value
            if isinstance(base, ast.Name) and base.id in names:
                owner = source.lookup(*names[base.id])
            elif isinstance(base, ast.Name) and base.id in modules:
                owner = Module("unsloth")
            elif (
                isinstance(base, ast.Attribute)
                and isinstance(base.value, ast.Name)
                and base.value.id in modules
            ):
                owner = source.lookup("unsloth", base.attr)
            elif function.attr in methods:
                label = f"<model>.{function.attr}"
                for func in methods[function.attr]:
                    report.calls.append((where, label, func.where))
                    check_arguments(source, call, func, where, label, report)
                continue
            else:
                continue
            if isinstance(owner, Klass):
                resolved = source.member(owner, function.attr)
            elif isinstance(owner, Module):
                resolved = source.lookup(owner.name, function.attr)
            else:
                report.errors.append(
                    Finding(where, label, f"{ast.unparse(base)} is not in the pinned Unsloth")
                )
                continue
        else:
            continue
        if resolved is None:
            report.errors.append(Finding(where, label, "the pinned Unsloth has no such method or function"))
        elif isinstance(resolved, Klass):
            init = source.member(resolved, "__init__")
            if isinstance(init, Func):
                init = Func(init.module, init.path, init.node, "bound", 1)
                report.calls.append((where, label, init.where))
                check_arguments(source, call, init, where, label, report)
            else:
                report.unverified.append(Finding(where, label, "a class whose __init__ is not in the wheel"))
        elif isinstance(resolved, Func):
            report.calls.append((where, label, resolved.where))
            check_arguments(source, call, resolved, where, label, report)
        else:
            report.unverified.append(Finding(where, label, "defined outside the wheel's source; not checked"))


def project_files() -> list[Path]:
    return sorted({path for pattern in PROJECT_SOURCES for path in ROOT.glob(pattern)})


# ---------------------------------------------------------------------------------------------------
# The tests


@functools.cache
def pinned_unsloth() -> WheelSource:
    """The pinned Unsloth's source, read once per session. Called from the tests rather than a fixture,
    so that a wheel that cannot be had fails (under CI) or skips the test itself, not its setup."""
    wheel = obtain_wheel("unsloth", pinned_version("unsloth"))
    # unsloth_zoo only if a forward leads into it, at the version this unsloth release asks for.
    return WheelSource(
        [wheel],
        lazy={"unsloth_zoo": lambda: obtain_wheel("unsloth_zoo", required_version(wheel, "unsloth_zoo"))},
    )


def test_project_calls_match_the_pinned_unsloth() -> None:
    """Every call the project makes into Unsloth binds to the pinned release's definitions."""
    unsloth = pinned_unsloth()
    for name in ENTRY_CLASSES:
        resolved = unsloth.lookup("unsloth", name)
        assert isinstance(resolved, Klass), f"the pinned Unsloth has no class {name}"
        assert resolved == unsloth.lookup(GPU_MODULE, name), (
            f"unsloth.{name} resolves to {resolved.path}:{resolved.node.lineno}, not to the one {GPU_MODULE} "
            "provides on a GPU: Unsloth's import structure changed, update GPU_MODULE or the resolver"
        )

    report = Report()
    for path in project_files():
        check_source(unsloth, path.read_text(), str(path.relative_to(ROOT)), report)
    print(report.summary())

    found = {call for _, call, _ in report.calls}
    missing = [call for call in KNOWN_CALLS if call not in found]
    assert not missing, f"the walk no longer finds {missing}; found {sorted(found)}"
    unchecked = [call for call in KNOWN_CALLS if not report.verified[call]]
    assert not unchecked, (
        f"no argument of {unchecked} was matched to a parameter: the checker resolves nothing"
    )
    assert not report.errors, "calls that the pinned Unsloth would reject:\n" + "\n".join(
        map(str, report.errors)
    )
    # A keyword that only an unfollowable **kwargs accepts would hide a parameter a new release
    # removed: the project's own calls must each bind to a parameter the wheel shows.
    assert not report.unverified, "calls the pinned Unsloth's source cannot confirm:\n" + "\n".join(
        map(str, report.unverified)
    )


def test_checker_reports_drift() -> None:
    """The checker is no rubber stamp: made-up keywords, missing methods and wrong argument counts, the
    drift a new Unsloth release brings, are reported at the line that makes them."""
    drifted = [
        "from unsloth import FastLanguageModel",
        'model, tokenizer = FastLanguageModel.from_pretrained(model_name="x", no_such_argument=1)',
        "FastLanguageModel.no_such_method()",
        "FastLanguageModel.for_inference(model, no_such_flag=True)",
        "FastLanguageModel.for_inference(model, tokenizer)",
        "FastLanguageModel.for_training()",
        'model.save_pretrained_gguf("out", tokenizer, quantisation_method="q4_k_m")',
        'model.save_pretrained_gguf("out", tokenizer, "q4_k_m", quantization_method="q8_0")',
        "FastLanguageModel.get_peft_model(model, r=8, **options)",
        "FastLanguageModel.get_peft_model(model, r=8, lora_alpha=16, use_gradient_checkpointing='unsloth')",
        "FastLanguageModel.for_inference(model)",
    ]
    report = Report()
    check_source(pinned_unsloth(), "\n".join(drifted), "drift.py", report)

    def at(line: int, findings: list[Finding]) -> str:
        return "\n".join(str(f) for f in findings if f.where == f"drift.py:{line}")

    # from_pretrained takes **kwargs that end in transformers, so a stray keyword cannot be proven wrong,
    # but it is reported; the same stray keyword to a function without **kwargs is an error.
    assert "no_such_argument" in at(2, report.errors + report.unverified)
    assert "the pinned Unsloth has no such method" in at(3, report.errors)
    assert "no parameter 'no_such_flag'" in at(4, report.errors)
    assert "2 positional arguments, but it takes at most 1" in at(5, report.errors)
    assert "missing required argument(s) model" in at(6, report.errors)
    assert "no parameter 'quantisation_method'" in at(7, report.errors)
    assert "'quantization_method' is given both positionally and by keyword" in at(8, report.errors)
    assert (
        at(9, report.skipped) == "drift.py:9: FastLanguageModel.get_peft_model: **options cannot be checked"
    )
    for line in (9, 10, 11):
        assert not at(line, report.errors + report.unverified)
    assert report.verified["FastLanguageModel.get_peft_model"] >= 4  # r (twice), lora_alpha, ... via **kwargs


def test_the_pinned_unsloth_passes_rollout_func_and_its_mask_through() -> None:
    """Whole-game GRPO (``rollout games``) gives ``GRPOTrainer`` a ``rollout_func`` keyword, whose
    ``env_mask`` TRL turns into its ``tool_mask``. On a GPU, Unsloth rebuilds the trainer's
    ``__init__`` from TRL's signature, keeping each parameter whose default is a plain value such as
    None (rollout_func's), and its GRPO loss multiplies the completion mask by that ``tool_mask``.
    Read from the pinned wheel, as the other checks here; a release that drops either fails here."""
    unsloth = pinned_unsloth()
    builder = ast.unparse(unsloth.tree("unsloth.models.rl"))
    assert "inspect.signature(RLobject.__init__).parameters" in builder, (
        "the trainer is no longer built from TRL's signature"
    )
    kept_defaults = re.search(r"types = \(([^)]*\))", builder)
    assert kept_defaults and "type(None)" in kept_defaults.group(1), (
        "parameters defaulting to None are dropped"
    )
    loss = ast.unparse(unsloth.tree("unsloth.models.rl_replacements"))
    assert re.search(r"completion_mask \* tool_mask", loss), "the GRPO loss no longer applies tool_mask"


def test_the_pinned_unsloth_shares_a_groups_prompt_and_our_gpu_path_leaves_it_on() -> None:
    """Unsloth's PrefixGrouper runs each GRPO group's prompt once on a GPU: on by default
    (``UNSLOTH_GRPO_PREFIX_GROUPER``, with sequence packing), off where vLLM generates
    (``fast_inference``) and where the loss needs entropies. The project sets neither variable, and
    no GPU preset asks for entropies (TRL's ``top_entropy_quantile``, ``entropy_coef``)."""
    unsloth = pinned_unsloth()
    grouper = ast.unparse(unsloth.tree("unsloth.utils.prefix_grouper"))
    assert "env_on('UNSLOTH_GRPO_SEQ_PACKING', '1') and env_on('UNSLOTH_GRPO_PREFIX_GROUPER', '1')" in grouper
    assert unsloth.has("unsloth_zoo.rl_replacements")
    loss = ast.unparse(unsloth.tree("unsloth_zoo.rl_replacements"))
    assert (
        "_pg_engage = bool(_pg_funcs) and (not getattr(trainer, 'use_vllm', False)) and (not _need_entropy)"
        in (loss)
    ), "PrefixGrouper's conditions changed: check README's line on when it is off"
    from rft.training.presets import PRESETS

    for path in (ROOT / "src").rglob("*.py"):
        assert "UNSLOTH_GRPO_" not in path.read_text(encoding="utf-8"), path
    for preset in PRESETS.values():
        if preset.loader == "unsloth":
            args = preset.trainer_args
            assert args.get("top_entropy_quantile", 1.0) == 1.0 and not args.get("entropy_coef"), preset.name
