"""The set-up: `make run` installs the runtime only, an old .venv is rebuilt, system-deps waits for apt's lock."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds a wheel, installs it into new virtualenvs, runs the set-up scripts

ROOT = Path(__file__).resolve().parent.parent
DEV_TOOLS = {"pytest", "pytest-asyncio", "hypothesis", "feedparser", "ruff", "mypy", "types-pyyaml", "types-requests",
             "playwright"}

# -- the Makefile, with fake interpreters ----------------------------------------------------------------------

FAKE_PYTHON = """#!/usr/bin/env bash
# A fake python {version}: answers the Makefile's version checks; `-m venv DIR` makes a fake venv of the same
# version; `-m pip ...` only writes down its arguments.
case "$1" in
  -V) echo "Python {version}" ;;
  -c) if [[ "$2" == *"sys.exit(not"* ]]; then {exit_if_old}; else echo "{supported}"; fi ;;
  -m) if [ "$2" = venv ]; then
        mkdir -p "$3/bin" && sed "s|^# SELF$|# made by venv|" "$0" > "$3/bin/python" && chmod +x "$3/bin/python"
      else
        echo "${{@:3}}" >> "{log}"
      fi ;;
esac
# SELF
"""


def fake_python(path: Path, version: str, log: Path) -> Path:
    old = tuple(int(part) for part in version.split(".")[:2]) < (3, 11)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FAKE_PYTHON.format(version=version, supported="False" if old else "True", log=log,
                                       exit_if_old="exit 1" if old else "exit 0"))
    path.chmod(0o755)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The Makefile and pyproject.toml in a folder of their own (the recipes' real commands are faked)."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def make(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=project, capture_output=True, text=True,
                          timeout=60, check=False)


def test_a_venv_of_python_3_10_is_rebuilt_with_a_clear_message(project: Path) -> None:
    log = project / "pip.log"
    fake_python(project / ".venv" / "bin" / "python", "3.10.12", log)
    (project / ".venv" / "leftover").write_text("made by 3.10")
    good = fake_python(project / "py311" / "python3", "3.11.9", log)
    result = make(project, f"PYTHON={good}", ".venv/bin/.installed")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (f"make: .venv was made by Python 3.10.12; announce-bot needs 3.11 or newer: rebuilding .venv with {good}"
            in result.stdout)
    assert not (project / ".venv" / "leftover").exists()
    assert "# made by venv" in (project / ".venv" / "bin" / "python").read_text()
    assert log.read_text().splitlines() == ["install --quiet --upgrade pip", "install --quiet -e ."]
    again = make(project, f"PYTHON={good}", ".venv/bin/.installed")  # a good .venv is left alone
    assert "rebuilding" not in again.stdout and "is up to date" in again.stdout


def test_a_venv_whose_python_is_gone_is_rebuilt(project: Path) -> None:
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "bin" / "python").symlink_to(project / "no-such-python")
    good = fake_python(project / "py311" / "python3", "3.11.9", project / "pip.log")
    result = make(project, f"PYTHON={good}", ".venv/bin/.installed")
    assert result.returncode == 0, result.stderr
    assert "make: .venv was made by a Python that no longer runs" in result.stdout


def test_an_unsupported_python_is_refused_with_what_to_do(project: Path) -> None:
    old = fake_python(project / "py310" / "python3", "3.10.12", project / "pip.log")
    result = make(project, f"PYTHON={old}", ".venv/bin/.installed")
    assert result.returncode != 0
    assert (f"make: {old} is Python 3.10.12; announce-bot needs Python 3.11 or newer: make PYTHON=python3.11"
            in result.stderr)
    assert not (project / ".venv").exists()


def test_run_installs_the_runtime_and_test_adds_the_dev_tools(project: Path) -> None:
    log = project / "pip.log"
    good = fake_python(project / "py311" / "python3", "3.11.9", log)
    run = make(project, "-n", f"PYTHON={good}", "run")
    assert "pip install --quiet -e .\n" in run.stdout and ".[dev]" not in run.stdout
    test = make(project, "-n", f"PYTHON={good}", "test")
    assert "pip install --quiet -e '.[dev]'" in test.stdout and "pytest" in test.stdout


def test_the_package_declares_no_test_tool_at_run_time_and_a_spdx_license() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {_name(requirement) for requirement in project["dependencies"]}
    assert not names & DEV_TOOLS
    assert {_name(requirement) for requirement in project["optional-dependencies"]["dev"]} >= DEV_TOOLS
    assert project["license"] == "MIT"  # an SPDX expression: a table makes setuptools warn four times


def _name(requirement: str) -> str:
    for stop in "[<>=!~; ":
        requirement = requirement.split(stop)[0]
    return requirement.lower()


def test_pip_install_into_a_new_venv_brings_no_test_tool_and_the_bot_runs(tmp_path: Path) -> None:
    """What `make run` gets, for real: a wheel built from this tree, installed with its dependencies only."""
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"),
                            str(ROOT)], capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, built.stderr
    assert "license" not in built.stderr.lower() and "BuildBackendWarning" not in built.stderr, built.stderr
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                              "--disable-pip-version-check", str(wheel)], capture_output=True, text=True, timeout=900,
                             check=False)
    assert install.returncode == 0, install.stderr
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"], capture_output=True,
                            text=True, timeout=120, check=True)
    installed = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert "announce-bot" in installed and "python-telegram-bot" in installed
    assert not installed & DEV_TOOLS, installed & DEV_TOOLS
    # The installed package is complete (migrations and web templates are package data): a database comes up.
    work = tmp_path / "work"
    shutil.copytree(ROOT / "tests" / "fixtures" / "config", work / "config")
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANNOUNCE_BOT_")}
    upgraded = subprocess.run([str(venv / "bin" / "announce-bot"), "db", "upgrade"], cwd=work, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
    assert upgraded.returncode == 0 and "is at revision" in upgraded.stdout, upgraded.stdout + upgraded.stderr


# -- system-deps.sh, with a stub apt-get that takes a real lock -------------------------------------------------

STUB_APT = """#!/usr/bin/env bash
# A stub apt-get: takes the lock file as apt takes its locks (waiting DPkg::Lock::Timeout seconds, 0 by default),
# writes down its arguments, and fails like apt when another process holds the lock.
timeout=0
for arg in "$@"; do [[ "$arg" == DPkg::Lock::Timeout=* ]] && timeout=${{arg#*=}}; done
echo "$*" >> "{log}"
exec 9>>"{lock}"
if ! flock -w "$timeout" 9; then
    echo "E: Could not get lock {lock}. It is held by process 4242 (apt-get)" >&2
    echo "E: Unable to lock directory {lock_dir}" >&2
    exit 100
fi
{fail}
exit 0
"""


@pytest.fixture
def apt(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path, Path]]:
    """PATH with a stub apt-get (and `id` saying root, and no chromium), its log, and the lock it takes."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "ls", "mktemp", "grep", "cat", "rm", "sleep", "basename", "dirname", "flock"):
        found = shutil.which(tool)
        assert found is not None, tool
        (tools / tool).symlink_to(found)
    (tools / "id").write_text("#!/usr/bin/env bash\necho 0\n")
    (tools / "id").chmod(0o755)
    lock = tmp_path / "lists" / "lock"
    lock.parent.mkdir()
    lock.touch()
    yield {"PATH": str(tools), "HOME": str(tmp_path)}, tmp_path / "apt.log", lock


def stub_apt(tools: Path, log: Path, lock: Path, fail: str = "") -> None:
    (tools / "apt-get").write_text(STUB_APT.format(log=log, lock=lock, lock_dir=lock.parent, fail=fail))
    (tools / "apt-get").chmod(0o755)


def system_deps(env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROOT / "scripts" / "system-deps.sh")], env={**env, **extra}, capture_output=True,
                          text=True, timeout=120, check=False)


def test_system_deps_waits_for_a_held_apt_lock_and_says_so(apt: tuple[dict[str, str], Path, Path]) -> None:
    env, log, lock = apt
    stub_apt(Path(env["PATH"]), log, lock)
    holder = os.open(lock, os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another apt, busy for a while
    threading.Timer(3.0, os.close, [holder]).start()
    result = system_deps(env)
    assert result.returncode == 0, result.stderr
    waiting = [line for line in result.stderr.splitlines() if "waiting for it" in line]
    assert waiting == [f"system-deps: another apt or dpkg is running (Could not get lock {lock}. It is held by "
                       "process 4242 (apt-get)); waiting for it, up to 10 minutes"], result.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == "-o DPkg::Lock::Timeout=0 update -qq"  # the first try fails at once: the wait is said
    assert len([call for call in calls if call.endswith("update -qq")]) >= 2  # tried again once the lock is free
    (install,) = [call for call in calls if " install " in call]
    assert install.endswith("install -y -qq --no-install-recommends chromium") or install.endswith(
        "postgresql chromium")
    timeout = int(install.split("DPkg::Lock::Timeout=")[1].split()[0])
    assert 0 < timeout <= 600  # apt itself waits for the dpkg lock, within what is left of the 10 minutes


def test_system_deps_gives_up_after_the_wait_with_apt_own_words(apt: tuple[dict[str, str], Path, Path]) -> None:
    env, log, lock = apt
    stub_apt(Path(env["PATH"]), log, lock)
    holder = os.open(lock, os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        result = system_deps(env, SYSTEM_DEPS_LOCK_WAIT="3")
    finally:
        os.close(holder)
    assert result.returncode != 0
    assert "system-deps: gave up after waiting 3 seconds for another apt or dpkg" in result.stderr
    assert f"E: Could not get lock {lock}." in result.stderr


def test_system_deps_does_not_wait_on_other_apt_errors(apt: tuple[dict[str, str], Path, Path]) -> None:
    env, log, lock = apt
    stub_apt(Path(env["PATH"]), log, lock,
             fail='[[ "$*" == *install* ]] && { echo "E: Unable to locate package chromium" >&2; exit 100; }')
    result = system_deps(env)
    assert result.returncode != 0
    assert "E: Unable to locate package chromium" in result.stderr and "waiting" not in result.stderr
    assert len([call for call in log.read_text().splitlines() if " install " in call]) == 1
