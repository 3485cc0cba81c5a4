"""The README's Python snippets run (with fewer epochs).

Snippets fenced as ``py`` rather than ``python`` are illustrations that need
a cluster, GPUs or the reader's data, and are not run.
"""

import re
from pathlib import Path

import pytest

README = (Path(__file__).parents[1] / "README.md").read_text()
SNIPPETS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize(
    "code", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))]
)
def test_readme_snippet_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # snippets may write files
    exec(
        compile(re.sub(r"max_epochs=\d+", "max_epochs=2", code), "README.md", "exec"),
        {},
    )
