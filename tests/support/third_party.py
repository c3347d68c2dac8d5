"""The sample third-party plugins (tests/third_party), installed as real distributions.

A process started with ``PYTHONPATH`` set to the returned folder finds their ``fedlogin`` entry
points exactly as it would find a plugin a third party published on PyPI.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
THIRD_PARTY = ROOT / "tests" / "third_party"
#: A working preset (GitLab) and one that fails to import.
SAMPLES = ("gitlab", "broken")


def install_sample_plugins(target: Path) -> Path:
    uv = shutil.which("uv")
    assert uv, "uv is needed to install the sample plugins"
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--no-deps", "--python", sys.executable]
        + ["--target", str(target)]
        + [str(THIRD_PARTY / name) for name in SAMPLES],
        check=True,
        cwd=ROOT,
    )
    return target
