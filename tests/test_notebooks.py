"""The notebooks run top to bottom with no keys, and the outputs stored in them are fresh.

The notebooks keep their executed outputs in the repository, so they show
results and charts where they are read (GitHub renders them). This test runs
each one in a fresh kernel over a fresh data dir and compares every cell's
output with the stored one, after masking what legitimately changes from run
to run: loopback ports, temporary paths, timings, memory addresses, and the
last digits of floating-point scores (numbers must agree within a small
tolerance). Images must be present where they were, not byte-identical.

When a notebook or the code it shows changes, refresh the stored outputs:

    make notebooks-refresh        # = python tests/test_notebooks.py --write
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
TIMEOUT = 600
#: absolute and relative tolerance for numbers in outputs (scores differ in the last digits
#: across CPUs: the local model is int8 ONNX)
ABS_TOL, REL_TOL = 0.02, 0.02

_MASKS = [
    (re.compile(r"https?://(?:127\.0\.0\.1|localhost|\[::1\]):\d+"), "http://127.0.0.1:PORT"),
    (re.compile(r"(?:/private)?/(?:tmp|var/folders)/[^\s'\")]+"), "TMPPATH"),
    (re.compile(r"0x[0-9a-f]{6,}"), "0xADDR"),
    (re.compile(r"(seconds_waited|seconds|elapsed)=[\d.]+"), r"\1=T"),
    (re.compile(r"\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?(\.\d+)?Z?\b"), "DATETIME"),
    (re.compile(r"\bin [\d.]+ ?(s|ms)\b"), "in T"),
]
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


def environment(home: Path) -> dict[str, str]:
    """What a reader has who set nothing: no Pinecone or OpenAI keys; a fresh data dir."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PINECONE_", "OPENAI_", "TENANT_RAG_"))
    }
    env["TENANT_RAG_HOME"] = str(home)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    return env


def execute(path: Path) -> Any:
    """Run the notebook at ``path`` in a fresh kernel; return the executed notebook."""
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="tenant-rag-nb-") as tmp:
        NotebookClient(
            nb,
            timeout=TIMEOUT,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOKS)}},
            record_timing=False,
        ).execute(env=environment(Path(tmp) / "home"))
    return nb


def tidy(nb: Any) -> Any:
    """The notebook as stored: outputs kept (streamed pieces joined, as Jupyter shows them),
    execution counts 1..n, no per-run metadata."""
    nb = copy.deepcopy(nb)
    count = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            count += 1
            cell.execution_count = count
            cell.outputs = coalesced(cell.outputs)
            for out in cell.outputs:
                if "execution_count" in out:
                    out["execution_count"] = count
                out.get("metadata", {}).pop("execution", None)
    return nb


def coalesced(outputs: list[Any]) -> list[Any]:
    """Consecutive stream outputs of one stream joined into one (a streamed answer is one)."""
    joined: list[Any] = []
    for out in outputs:
        prev = joined[-1] if joined else None
        if (
            out.get("output_type") == "stream"
            and prev is not None
            and prev.get("output_type") == "stream"
            and prev.get("name") == out.get("name")
        ):
            prev["text"] = "".join(prev["text"]) + "".join(out["text"])
        else:
            joined.append(copy.deepcopy(out))
    return joined


def texts(cell: Any) -> list[tuple[str, str]]:
    """A cell's outputs as (kind, text); images as their mime type only."""
    found: list[tuple[str, str]] = []
    for out in coalesced(cell.get("outputs", [])):
        kind = out.get("output_type")
        if kind == "stream":
            found.append((f"stream:{out.get('name')}", "".join(out.get("text", ""))))
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            for mime in sorted(data):
                if mime.startswith("image/"):
                    found.append((mime, "<image>"))
                elif mime == "text/plain":
                    found.append((mime, "".join(data[mime])))
        elif kind == "error":
            found.append(("error", f"{out.get('ename')}: {out.get('evalue')}"))
    return found


def masked(text: str) -> str:
    for pattern, repl in _MASKS:
        text = pattern.sub(repl, text)
    return text


def same(stored: str, fresh: str) -> bool:
    """Equal after masking, numbers within tolerance."""
    a, b = masked(stored), masked(fresh)
    if _NUMBER.sub("N", a) != _NUMBER.sub("N", b):
        return False
    for x, y in zip(_NUMBER.findall(a), _NUMBER.findall(b), strict=True):
        if x == y:
            continue
        fx, fy = float(x), float(y)
        if not math.isclose(fx, fy, rel_tol=REL_TOL, abs_tol=ABS_TOL):
            return False
    return True


def differences(stored_nb: Any, fresh_nb: Any) -> list[str]:
    """Human-readable differences between the stored outputs and a fresh run."""
    problems: list[str] = []
    code = [c for c in stored_nb.cells if c.cell_type == "code"]
    fresh = [c for c in fresh_nb.cells if c.cell_type == "code"]
    for n, (old, new) in enumerate(zip(code, fresh, strict=True), 1):
        a, b = texts(old), texts(new)
        if [k for k, _ in a] != [k for k, _ in b]:
            problems.append(
                f"code cell {n}: output kinds {[k for k, _ in a]} -> {[k for k, _ in b]}"
            )
            continue
        for (kind, x), (_, y) in zip(a, b, strict=True):
            if not same(x, y):
                problems.append(f"code cell {n} ({kind}):\n--- stored\n{x}\n--- now\n{y}")
    return problems


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs_and_its_stored_outputs_are_fresh(path: Path) -> None:
    stored = nbformat.read(path, as_version=4)
    code = [c for c in stored.cells if c.cell_type == "code"]
    assert any(c.outputs for c in code), (
        f"{path.name} has no stored outputs: run `make notebooks-refresh` and commit"
    )
    fresh = execute(path)
    errors = [t for c in fresh.cells if c.cell_type == "code" for k, t in texts(c) if k == "error"]
    assert not errors, f"{path.name} raised: {errors}"
    problems = differences(stored, fresh)
    assert not problems, (
        f"{path.name}: stored outputs are stale; run `make notebooks-refresh` and commit.\n"
        + "\n".join(problems[:5])
    )


def test_the_quickstart_toy_vectors_show_a_ranking() -> None:
    """Scores that all read 1.0 teach nothing: the stored quickstart ranks distinct scores."""
    nb = nbformat.read(NOTEBOOKS / "01_quickstart.ipynb", as_version=4)
    query = next(c for c in nb.cells if c.cell_type == "code" and "tenant2.query" in c.source)
    lines = [t for _, t in texts(query)][0].strip().splitlines()
    scores = [float(line.split()[1]) for line in lines]
    assert len(scores) == 3 and len(set(scores)) == 3 and scores == sorted(scores, reverse=True)
    assert max(scores) < 1.0


def test_opening_the_notebooks_is_one_command() -> None:
    """``make notebooks`` starts JupyterLab, which the dev extra installs."""
    import subprocess

    assert (Path(sys.executable).parent / "jupyter-lab").exists(), "the dev extra lacks JupyterLab"
    plan = subprocess.run(
        ["make", "-n", "notebooks"], cwd=NOTEBOOKS.parent, capture_output=True, text=True
    )
    assert plan.returncode == 0, plan.stderr
    assert "jupyter lab" in plan.stdout and "notebooks/" in plan.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the notebooks; store or check outputs.")
    parser.add_argument("--write", action="store_true", help="store the fresh outputs")
    parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    args = parser.parse_args()
    failed = 0
    for path in PATHS:
        if args.names and path.stem not in args.names and path.name not in args.names:
            continue
        fresh = tidy(execute(path))
        stored = nbformat.read(path, as_version=4)
        same_sources = [c.source for c in stored.cells] == [c.source for c in fresh.cells]
        if args.write:
            if same_sources and not differences(stored, fresh):
                print(f"{path.name}: outputs unchanged (ports, paths and timings aside)")
                continue  # no churn in the repository for a port number
            nbformat.write(fresh, path)
            print(f"stored the outputs of {path.name}")
        else:
            problems = differences(stored, fresh)
            failed += bool(problems)
            print(f"{path.name}: {'stale' if problems else 'fresh'}")
            for p in problems:
                print(p)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
