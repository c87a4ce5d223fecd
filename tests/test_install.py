"""The package alone is enough (issue 12, item 12): a fresh venv with ``pip install`` of
tenant_rag and nothing else runs the README's quickstart and the CLI; ``make demo`` installs
the runtime dependencies only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_readme import quickstart_code

ROOT = Path(__file__).resolve().parents[1]


def test_a_fresh_venv_with_only_the_package_runs_the_quickstart(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    uv = Path(sys.executable).with_name("uv")  # installed by the Makefile; pip works the same
    install = subprocess.run(
        [str(uv), "pip", "install", "--python", str(python), "-q", str(ROOT)],
        env={**os.environ, "UV_LINK_MODE": "copy"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr
    # a plain install (not editable), so missing package data would show here
    located = subprocess.run(
        [str(python), "-c", "import tenant_rag; print(tenant_rag.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert str(venv) in located.stdout, located.stdout + located.stderr
    for dev_tool in ("pytest", "ruff", "mypy", "jupyterlab", "playwright"):
        probe = subprocess.run(
            [str(python), "-c", f"import {dev_tool}"], capture_output=True, cwd=tmp_path
        )
        assert probe.returncode != 0, f"{dev_tool} came with the package"

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PINECONE_", "OPENAI_"))}
    env.pop("TENANT_RAG_TEST_EMBEDDINGS", None)
    env["TENANT_RAG_HOME"] = str(tmp_path / "home")
    run = subprocess.run(
        [str(python), "-c", quickstart_code()],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "acme Acme ships every order within 2 days." in run.stdout
    version = subprocess.run(
        [str(venv / "bin" / "tenant-rag"), "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("tenant-rag ")


def test_make_demo_installs_the_runtime_dependencies_only(tmp_path: Path) -> None:
    plan = subprocess.run(
        ["make", "-n", "demo", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert plan.returncode == 0, plan.stderr
    installs = [line for line in plan.stdout.splitlines() if "pip install --python" in line]
    assert installs, plan.stdout
    assert all("[dev]" not in line for line in installs), installs
    assert all('-e "."' in line for line in installs), installs
