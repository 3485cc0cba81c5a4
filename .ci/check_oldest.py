"""Check the oldest-versions environment of .ci/run.

Every version pinned in .ci/oldest-constraints.txt must be the lower bound
that pyproject.toml declares for that package (in the dependencies or an
extra), and the version installed; so the oldest-versions run tests what
pyproject.toml promises, and the two files cannot drift apart.
"""

import re
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import tomllib
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def lower_bounds() -> dict:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    bounds = {}
    for requirement in requirements:
        match = re.fullmatch(
            r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*>=\s*([^,;\s]+)", requirement
        )
        if match:
            name = match[1].lower().replace("_", "-")
            bounds.setdefault(name, set()).add(Version(match[2]))
    return bounds


def pins() -> dict:
    pinned = {}
    for line in (ROOT / ".ci" / "oldest-constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, pinned_version = line.split("==")
            pinned[name.strip().lower()] = pinned_version.strip()
    return pinned


def main() -> int:
    bounds, problems = lower_bounds(), []
    for name, pinned in pins().items():
        declared = bounds.get(name, set())
        if declared != {Version(pinned)}:
            problems.append(
                f"{name}: pinned {pinned} in .ci/oldest-constraints.txt, but "
                f"pyproject.toml declares >= {sorted(map(str, declared)) or 'nothing'}"
            )
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            problems.append(f"{name}: {installed} installed, {pinned} pinned")
    for problem in problems:
        print(f"check_oldest: {problem}", file=sys.stderr)
    if not problems:
        print("check_oldest: the oldest declared versions are installed:")
        print("    " + ", ".join(f"{name} {pin}" for name, pin in pins().items()))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
