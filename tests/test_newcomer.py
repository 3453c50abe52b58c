"""What a new student meets first: ./start.sh's first install, and the README's commands.

- ``./start.sh`` on a machine without ``.venv`` must say what it is doing and how long it
  took (it printed nothing for 2-3 minutes and looked hung). Run here with a stand-in
  Python that records the pip calls instead of installing anything.
- Every command in README.md must work pasted as written from the checkout: each one is
  extracted and run (``--help`` added where running it would start a download or a chat).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

STUB_PYTHON = """#!/usr/bin/env bash
# stands in for python3: "-m venv DIR" makes DIR/bin/python (this same stub); the rest
# is recorded and succeeds, except "import torch", which says torch is missing.
echo "$0 $*" >> "$STUB_LOG"
if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; exit 0
fi
if [ "$1" = -c ]; then exit 1; fi
exit 0
"""


def test_start_sh_says_what_the_first_install_does(tmp_path):
    work = tmp_path / "clone"
    work.mkdir()
    for name in ("start.sh", "pyproject.toml"):
        shutil.copy2(ROOT / name, work / name)
    stub = tmp_path / "python3"
    stub.write_text(STUB_PYTHON)
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.log"
    env = {**os.environ, "PYTHON": str(stub), "STUB_LOG": str(log)}
    # an unknown mode installs, then stops with the usage line instead of serving
    out = subprocess.run(
        ["bash", "start.sh", "nothing"], cwd=work, env=env, capture_output=True, text=True
    )
    assert out.returncode == 2, out.stderr
    said = out.stderr
    assert "installing into ./.venv" in said and "2-3 minutes" in said
    assert "[2/3] installing torch" in said and "[3/3] installing the app" in said
    assert re.search(r"installed in \d+ s", said), said
    # pip's own progress is shown for the long installs (no -q there)
    pip_calls = [c for c in log.read_text().splitlines() if " -m pip install " in c]
    assert any("torch" in c and " -q " not in c for c in pip_calls), pip_calls
    # a second run installs nothing and says nothing about installing
    again = subprocess.run(
        ["bash", "start.sh", "nothing"], cwd=work, env=env, capture_output=True, text=True
    )
    assert "installing" not in again.stderr


# -- README commands -------------------------------------------------------------------
def readme_commands() -> list[str]:
    """Shell commands in README.md: lines of ```bash blocks and inline `code` that start
    with a command (comments and continuation joined/stripped)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    for code in re.findall(r"`([^`\n]+)`", prose):
        if re.match(r"(\./|\.venv/|python|pip|pytest|streamlit|apt-get|ssh|[A-Z_]+=)", code):
            commands.append(code)
    return commands


def test_readme_names_commands():
    cmds = readme_commands()
    assert any("demo_core.download" in c for c in cmds)
    assert any(c.startswith("./start.sh") for c in cmds)


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_works_as_pasted(command):
    words = shlex.split(command)
    env_prefix = [w for w in words if re.match(r"^[A-Z_]+=", w)]
    words = words[len(env_prefix) :]
    expanded: list[str] = []
    for w in words:  # the shell expands globs such as tests/test_agent_*.py
        expanded += sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(w)) if "*" in w else [w]
    words = expanded
    prog = words[0]
    if prog in ("ssh", "apt-get"):
        pytest.skip(f"{prog}: runs on another machine / installs system packages")
    # a bare interpreter or tool is not there for a student without an activated venv
    assert prog not in ("python", "python3", "pip", "pytest", "streamlit"), (
        f"README command {command!r} needs an activated venv; write .venv/bin/{prog}"
    )
    if prog == "./start.sh":
        assert os.access(ROOT / "start.sh", os.X_OK)
        mode = words[1] if len(words) > 1 else "app"
        assert mode in ("app", "test"), command
        return
    assert prog.startswith(".venv/bin/"), command
    # the project's venv is the one running this test (CI makes it with ./start.sh)
    venv_bin = Path(sys.executable).parent
    exe = venv_bin / Path(prog).name
    assert exe.exists(), f"{prog} is not installed by ./start.sh"
    if Path(prog).name == "pip":
        args = [str(exe), *words[1:], "--dry-run", "--no-deps", "--no-build-isolation"]
        if "-e" in words:
            args = [str(exe), "--version"]  # editable install of this checkout: it is there
    else:
        args = [str(exe), *words[1:], "--help"]
        if "pytest" in words:
            args = [str(exe), *words[1:], "--collect-only", "-q"]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"{command!r} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"


def test_the_app_runs_without_a_file_watcher():
    """Streamlit's watcher walks the checkout with its .venv (~54k files), overflows
    inotify and keeps a core busy while a tab is open (benchmarks/idle_cpu.py: 74 % of a
    core with the watcher, 0.5 % without). ./start.sh serves with this config."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"]["runOnSave"] is False
