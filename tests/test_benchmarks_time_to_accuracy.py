"""Smoke test of benchmarks.time_to_accuracy on tiny synthetic data."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is not installed with the package
    sys.path.insert(0, str(ROOT))

from benchmarks import time_to_accuracy  # noqa: E402


def test_time_to_accuracy_records_every_epoch(tmp_path):
    argv = ["--n-samples", "200", "--n-landmarks", "8", "--n-targets", "5"]
    argv += ["--max-epochs", "3", "--out", str(tmp_path)]
    results = time_to_accuracy.main(argv, log=lambda *args: None)
    assert set(results["models"]) == {"reference", "defaults", "mlp"}
    for model in results["models"].values():
        assert len(model["curve"]) == model["epochs"] <= 3
        seconds = [second for second, _ in model["curve"]]
        assert seconds == sorted(seconds) and seconds[0] > 0
        assert model["best_mae"] == min(error for _, error in model["curve"])
    reference = results["models"]["reference"]
    assert reference["seconds_to_reference_best"] == reference["seconds_to_best"]
    saved = json.loads((tmp_path / "time_to_accuracy.json").read_text())
    assert saved["ridgecv_mae"] == results["ridgecv_mae"]
    assert (
        "| TAAFRegressor() (defaults) |"
        in (tmp_path / "time_to_accuracy.md").read_text()
    )
