"""``make dist`` on a machine without PyInstaller says what to install (the build itself and
the binary are checked by tests/dist after ``make dist`` in .ci/run)."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_dist_without_pyinstaller_says_what_to_install():
    make = shutil.which("make")
    assert make, "make is missing (.ci/run installs it)"
    # -o: the venv stamp counts as up to date; PYI: a PyInstaller that is not there
    done = subprocess.run([make, "-s", "-o", ".venv/.installed", "dist",
                           "PYI=/nonexistent/pyinstaller"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0
    assert "make dist needs PyInstaller" in done.stderr
    assert "pip install -e '.[dist]'" in done.stderr and "pyinstaller==6.22.3" in done.stderr
