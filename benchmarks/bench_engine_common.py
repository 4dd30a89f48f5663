"""Reference implementations for the engine benchmarks, run in their own virtualenv.

`lifetimes` 0.11.3 (2020) does not run on the project's Python 3.13 / NumPy 2 (it needs
`pkg_resources`, autograd 1.6 and the NumPy 1 API), so the benchmarks build
`benchmarks/.ref-venv` (git-ignored) on Python 3.11 with pinned, mutually compatible versions,
and run `lifetimes` and `mlxtend` there as a subprocess. Data goes across as .npy files in a
temporary folder; the reference times only its own fitting or mining, after loading.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REF_VENV = Path(__file__).resolve().parent / ".ref-venv"
REF_REQUIREMENTS = [
    "lifetimes==0.11.3",
    "numpy==1.26.4",
    "scipy==1.11.4",
    "pandas==2.1.4",
    "autograd==1.6.2",
    "dill==0.3.8",
    "setuptools<70",  # lifetimes imports pkg_resources
    "mlxtend==0.23.1",
]
PYTHON_CANDIDATES = ["python3.11", "/root/.pyenv/versions/3.11.7/bin/python", "python3.12"]

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def ref_python() -> Path:
    """The reference venv's interpreter, creating the venv on first use."""
    python = REF_VENV / "bin" / "python"
    marker = REF_VENV / "requirements.json"
    if python.exists() and marker.exists() and json.loads(marker.read_text()) == REF_REQUIREMENTS:
        return python
    base = next((found for name in PYTHON_CANDIDATES if (found := shutil.which(name))), None)
    if base is None:
        raise SystemExit("the reference benchmarks need Python 3.11 or 3.12 (lifetimes 0.11.3 fails on 3.13)")
    print(f"creating {REF_VENV} with {base} …", flush=True)
    if REF_VENV.exists():
        shutil.rmtree(REF_VENV)
    subprocess.run([base, "-m", "venv", str(REF_VENV)], check=True)  # noqa: S603  -- a fixed interpreter path
    subprocess.run([str(python), "-m", "pip", "install", "-q", *REF_REQUIREMENTS], check=True)  # noqa: S603  -- pinned list
    marker.write_text(json.dumps(REF_REQUIREMENTS))
    return python


def run_reference(script: str, arrays: dict[str, np.ndarray], options: dict[str, Any]) -> dict[str, Any]:
    """Run `script` in the reference venv with `arrays` saved as .npy; return its JSON result.

    The script sees `DATA` (a Path to the folder), `OPTIONS` (a dict) and must print one JSON
    object as its last line.
    """
    python = ref_python()
    with tempfile.TemporaryDirectory(prefix="guanxi-ref-") as folder:
        data = Path(folder)
        for name, array in arrays.items():
            np.save(data / f"{name}.npy", array)
        prelude = (
            "import json, pathlib, warnings\n"
            "warnings.simplefilter('ignore')\n"
            f"DATA = pathlib.Path({str(data)!r})\n"
            f"OPTIONS = json.loads({json.dumps(json.dumps(options))})\n"
        )
        env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
        completed = subprocess.run(  # noqa: S603  -- our own reference script, in our own venv
            [str(python), "-c", prelude + script], check=True, capture_output=True, text=True, env=env
        )
    last = completed.stdout.strip().splitlines()[-1]
    result: dict[str, Any] = json.loads(last)
    return result
