"""The package and the binaries it drives are one release: the version in
pyproject.toml is the one `batch --version` prints (BatchVersion.number)."""

import re
import subprocess

from conftest import BATCH, PACKAGE


def test_the_package_is_the_release_of_the_binaries():
    declared = re.search(r'^version = "([^"]+)"', (PACKAGE / "pyproject.toml").read_text(), re.M).group(1)
    printed = subprocess.run([BATCH, "--version"], capture_output=True, text=True, check=True).stdout
    assert printed.split()[1] == declared, (printed, declared)
