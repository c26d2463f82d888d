"""Test modules share helpers only through ``tests.support``: no test module imports from another test
module or from a conftest. ``tests.zoo`` (the model zoo's catalogue and data) is the one other package
they may import from."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ALLOWED = ("tests.support", "tests.zoo")


def _allowed(module: str) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in ALLOWED)


def _imported_modules(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The ``tests`` modules one import statement names (``from tests.x import y`` may name module ``y``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "tests"]
    if node.level == 0 and (node.module or "").split(".")[0] == "tests":
        module = str(node.module)
        return [module] if _allowed(module) else [module + "." + alias.name for alias in node.names]
    return []


def forbidden_imports(source: str, where: str) -> list[str]:
    """Each import in ``source`` of a test module, a conftest or any other ``tests`` module outside the allowed
    packages, and each relative import."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename=where)):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append("%s:%d relative import" % (where, node.lineno))
            continue
        found += ["%s:%d imports %s" % (where, node.lineno, module)
                  for module in _imported_modules(node) if not _allowed(module)]
    return found


def test_no_test_module_imports_another_or_a_conftest() -> None:
    sources = [path for path in sorted(TESTS.rglob("*.py")) if "fixtures" not in path.relative_to(TESTS).parts]
    assert len(sources) > 100  # the walk really reads the suite
    problems = [problem for path in sources
                for problem in forbidden_imports(path.read_text(), str(path.relative_to(TESTS.parent)))]
    assert problems == [], "move what is shared into tests/support:\n" + "\n".join(problems)


def test_the_check_tells_allowed_imports_from_forbidden_ones() -> None:
    cases = {
        "from tests.conftest import stop_daemon": False,
        "from tests.ssh.conftest import SshWorld": False,
        "from tests.store.test_full_disk import small_disk": False,
        "from tests.jobs import harness": False,
        "import tests.runtime.wire": False,
        "from .helpers import x": False,
        "from tests.support.daemons import stop_daemon": True,
        "from tests.support import quant_models": True,
        "from tests.zoo import BY_NAME": True,
        "from tests.zoo.external import DATA_NAME": True,
        "import tests.support.wire": True,
        "import json": True,
    }
    for line, allowed in cases.items():
        found = forbidden_imports("def f() -> None:\n    %s\n" % line, "probe.py")
        assert (found == []) is allowed, (line, found)
