"""Type-checks compiler/ and runtime/ with mypy under their import names; `make test` runs it.

setuptools maps `cascade.compiler` to compiler/ and `cascade.runtime` to runtime/ with an
editable finder that mypy does not follow, so this links the two folders into
.cascade/typecheck/cascade/ and mypy checks the packages there ([tool.mypy] in pyproject.toml
names them and the folder). Reported paths are rewritten back to compiler/... and runtime/...
Run it with the project's interpreter: `.venv/bin/python scripts/typecheck.py [mypy options]`.
"""

import os
import sys
from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = Path(".cascade") / "typecheck"
PACKAGES = ("compiler", "runtime")


def link_packages() -> None:
    namespace = ROOT / LAYOUT / "cascade"
    namespace.mkdir(parents=True, exist_ok=True)
    for name in PACKAGES:
        link = namespace / name
        # Relative, so a moved or re-cloned checkout still points at its own folders.
        target = Path("..", "..", "..", name)
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        link.unlink(missing_ok=True)
        link.symlink_to(target, target_is_directory=True)


def main() -> int:
    link_packages()
    os.chdir(ROOT)
    stdout, stderr, status = api.run(sys.argv[1:])
    prefix = f"{LAYOUT / 'cascade'}{os.sep}"
    sys.stdout.write("".join(line.removeprefix(prefix) for line in stdout.splitlines(True)))
    sys.stderr.write(stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
