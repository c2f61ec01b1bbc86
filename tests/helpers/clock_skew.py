"""Environment for a child process whose wall clock is shifted by `offset_s` seconds.

    env = skewed_env(dict(os.environ), 30.0)   # then start the process with `env`

libfaketime is not on the CI machine (and installing it needs root), so the
`skewed_clock/sitecustomize.py` shim does the shifting from inside Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["SHIM_DIR", "skewed_env"]

SHIM_DIR = Path(__file__).with_name("skewed_clock")


def skewed_env(env: Mapping[str, str], offset_s: float) -> dict[str, str]:
    """`env` plus the sitecustomize shim on PYTHONPATH and the offset it applies."""
    paths = [str(SHIM_DIR), *filter(None, [env.get("PYTHONPATH", "")])]
    return {
        **env,
        "PYTHONPATH": ":".join(paths),
        "TOKENWARD_TEST_CLOCK_OFFSET_S": repr(float(offset_s)),
    }
