"""The package's layer rules (.importlinter), checked by import-linter on every `make test`: the HTTP contract (web)
imports nothing else of the project, each package imports only the packages below it (so access never imports
resources, models nothing above them), and no modules or packages import each other in a circle.

The second test breaks a rule on purpose, in a copy of the package, to show that the check is live."""
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(directory):
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=directory, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(directory), "PATH": "/usr/bin:/bin"})


def test_every_layer_contract_is_kept():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def copy_of_the_package(tmp_path):
    shutil.copytree(REPO / "tracker_api", tmp_path / "tracker_api", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def add_import(module, line):
    source = module.read_text()
    module.write_text(source.replace('"""\n', f'"""\n{line}\n', 1) if source.startswith('"""') else f"{line}\n{source}")


def test_a_deliberate_violation_of_each_rule_is_caught(tmp_path):
    package = copy_of_the_package(tmp_path) / "tracker_api"
    add_import(package / "web" / "errors.py", "from ..extensions import db  # noqa")  # the HTTP contract
    add_import(package / "access" / "keys.py", "from ..resources import paths  # noqa")  # access above resources
    add_import(package / "access" / "caller.py", "from . import usage  # noqa")  # usage -> caller -> usage
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "The resources that share nothing stay independent of each other KEPT" in result.stdout  # not touched
    for broken in ("Layers: each package imports only the ones below it BROKEN",
                   "The HTTP contract (web) imports nothing else of the project BROKEN",
                   "No import cycles between sibling modules or packages, at any depth BROKEN"):
        assert broken in result.stdout, result.stdout
    assert "tracker_api.access.keys -> tracker_api.resources.paths" in result.stdout
    assert "tracker_api.web.errors -> tracker_api.extensions" in result.stdout
