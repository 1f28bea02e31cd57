"""An install with only the ``train`` extra can run a learning cycle.

A fresh interpreter imports the cycle's whole path: the training modules and every module they
import, at the top or inside a function (``trl`` and ``peft`` load only when a stage runs). Each
third-party module that ends up loaded must come from a distribution that the project's core
dependencies plus the ``train`` extra pull in, followed transitively through the installed
metadata. So a training module importing, say, ``rouge_score`` (``eval`` extra only) fails here,
although this environment has every extra installed.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

PROJECT = "support-assistant"
EXTRA = "train"
OWN_PACKAGES = {"assistant", "training", "eval", "connectors"}
CYCLE_MODULES = [  # packages are imported with all their submodules
    "training.cycle",
    "training.stages",
    "training.lora",
    "training.kto",
    "training.retriever",
    "training.redact",
    "training.gate",
    "training.datasets",
]
# Distributions that a dependency imports only when they are installed (``try: import …
# except ImportError``): loaded here because other extras installed them, absent and unmissed
# in a ``train`` install.
OPTIONAL_IMPORTS = {
    "brotli": "httpx decodes brotli-compressed responses with it",
    "sniffio": "httpcore tells asyncio from trio with it",
}
SITE_PACKAGES = {Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")}

# Run in a fresh interpreter: prints "name<TAB>file" for each top-level module the imports added.
IMPORT_THE_CYCLE = """
import ast, importlib, pkgutil, sys

before = set(sys.modules)
modules = dict.fromkeys(sys.argv[1:])
for name in list(modules):
    package = importlib.import_module(name)
    if hasattr(package, "__path__"):
        modules.update(dict.fromkeys(i.name for i in pkgutil.walk_packages(package.__path__, name + ".")))
for name in modules:  # the modules themselves, then whatever they import inside functions
    module = importlib.import_module(name)
    for node in ast.walk(ast.parse(open(module.__file__, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            targets = [node.module]
        else:
            continue
        for target in targets:
            importlib.import_module(target)
for top in sorted({name.split(".")[0] for name in set(sys.modules) - before}):
    print(top, getattr(sys.modules.get(top), "__file__", None) or "", sep="\\t")
"""


def _applies(requirement: Requirement, extras: set[str]) -> bool:
    """Whether ``requirement`` is needed here when exactly ``extras`` are asked for ("" for none)."""
    return requirement.marker is None or any(requirement.marker.evaluate({"extra": e}) for e in extras)


def allowed_distributions() -> set[NormalizedName]:
    """The project's core dependencies and its ``train`` extra, with all they require, transitively.

    A dependency's own extras count only where a requirement asks for them (``uvicorn[standard]``).
    """
    allowed: set[NormalizedName] = {canonicalize_name(PROJECT)}
    queue = [r for r in map(Requirement, requires(PROJECT) or []) if _applies(r, {"", EXTRA})]
    seen: set[tuple[NormalizedName, frozenset[str]]] = set()
    while queue:
        requirement = queue.pop()
        name = canonicalize_name(requirement.name)
        if (name, frozenset(requirement.extras)) in seen:
            continue
        seen.add((name, frozenset(requirement.extras)))
        allowed.add(name)
        try:
            needs = requires(requirement.name) or []
        except PackageNotFoundError:  # not installed here, so nothing can have imported it
            continue
        queue += [r for r in map(Requirement, needs) if _applies(r, {"", *requirement.extras})]
    return allowed


def third_party_providers(name: str, file: str, providers: dict[str, list[str]]) -> list[str] | None:
    """The distributions that may provide top-level module ``name``; None when it is not third-party.

    Not third-party: the standard library, this project, and modules outside site-packages or
    without a file (made at run time by Cython, SWIG or torch). An extension module a package
    registers at the top level (scipy's ``_csparsetools``) belongs to the package it sits in.
    """
    if name in sys.stdlib_module_names or name in OWN_PACKAGES:
        return None
    if name in providers:
        return providers[name]
    for site in SITE_PACKAGES:
        if file and Path(file).is_relative_to(site):
            return providers.get(Path(file).relative_to(site).parts[0], [])
    return None


def test_the_cycle_imports_only_core_and_train_dependencies() -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_THE_CYCLE, *CYCLE_MODULES],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = dict(line.split("\t") for line in done.stdout.splitlines())
    assert {"training", "trl", "peft"} <= set(loaded)  # the imports ran, the lazy ones too
    providers = packages_distributions()
    allowed = allowed_distributions() | {canonicalize_name(d) for d in OPTIONAL_IMPORTS}
    outside = {}
    for name, file in sorted(loaded.items()):
        dists = third_party_providers(name, file, providers)
        if dists is not None and not any(canonicalize_name(d) in allowed for d in dists):
            outside[name] = dists or "no installed distribution"
    assert not outside, f"the cycle imports modules outside the core and `{EXTRA}` dependencies: {outside}"
