"""Outputs a biologist can trust and trace, from the command line (issue 26):
reproducible fits (``--seed``), held-out samples and ``sktaaf score``, the
training file's row metadata carried to ``sktaaf predict``'s output,
landmarks found by any id (``--id-field``), ``sktaaf info``, and ``--help``
and ``--version`` without torch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("h5py")

from sktaaf import TAAFRegressor  # noqa: E402
from sktaaf._cli import main  # noqa: E402
from sktaaf._cli._holdout import split_samples  # noqa: E402
from sktaaf._cli._predict import output_rows  # noqa: E402
from sktaaf._persistence._format import read_file  # noqa: E402
from sktaaf._save_load import save_estimator  # noqa: E402
from sktaaf.datasets import (  # noqa: E402
    l1000_landmark_ids,
    load_gctx,
    map_landmark_ids,
    write_gctx,
)
from sktaaf.metrics import per_gene_mae, per_gene_pearson  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
N_SAMPLES, N_LANDMARKS, N_TARGETS = 60, 12, 6
PARAMS = [
    "--param=hidden_layer_sizes=(8,)",
    "--param=max_epochs=2",
    "--param=batch_size=16",
]


def _profiles(keyed_by: str = "entrez_id"):
    """Profiles of the first 12 L1000 landmarks and 6 targets, rows keyed by
    Entrez id (or probe id), with symbols, titles, Entrez ids and landmark
    flags as row metadata and two sample fields."""
    rng = np.random.RandomState(0)
    landmarks = list(l1000_landmark_ids("entrez_id")[:N_LANDMARKS])
    targets = [str(900000 + i) for i in range(N_TARGETS)]
    X = rng.normal(size=(N_SAMPLES, N_LANDMARKS)).astype(np.float32)
    W = rng.normal(size=(N_LANDMARKS, N_TARGETS)).astype(np.float32) / 4
    y = np.tanh(X @ W) + 3.0
    symbols = list(map_landmark_ids(landmarks, from_type="entrez_id", to_type="symbol"))
    symbols += [f"GENE{i}" for i in range(N_TARGETS)]
    ids = landmarks + targets
    if keyed_by == "probe_id":
        ids = list(
            map_landmark_ids(landmarks, from_type="entrez_id", to_type="probe_id")
        )
        ids += [f"{1000 + i}_at" for i in range(N_TARGETS)]
    frame = pd.DataFrame(
        np.hstack([X, y]), index=[f"s{i}" for i in range(N_SAMPLES)], columns=ids
    )
    rows = pd.DataFrame(
        {
            "pr_gene_id": [int(gene) for gene in landmarks + targets],
            "pr_gene_symbol": symbols,
            "pr_gene_title": [f"title of {symbol}" for symbol in symbols],
            "pr_is_lmark": [1] * N_LANDMARKS + [0] * N_TARGETS,
        },
        index=ids,
    )
    cols = pd.DataFrame(
        {
            "cell_id": rng.choice(["A375", "MCF7"], N_SAMPLES),
            "pert_dose": rng.choice([0.1, 10.0], N_SAMPLES),
        },
        index=frame.index,
    )
    return frame, rows, cols


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outputs")
    write_gctx(folder / "train.gctx", *_profiles())
    write_gctx(folder / "probes.gctx", *_profiles("probe_id"))
    return folder


def _sktaaf(*args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "sktaaf", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _one_line_error(capsys, *texts) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for text in texts:
        assert text in err, err
    return err


def _equal(first, second) -> bool:
    """Nested tensors, dicts and lists equal bit for bit."""
    import torch

    if isinstance(first, torch.Tensor):
        return torch.equal(first, second)
    if isinstance(first, dict):
        return first.keys() == second.keys() and all(
            _equal(first[key], second[key]) for key in first
        )
    if isinstance(first, list | tuple):
        return len(first) == len(second) and all(
            _equal(x, y) for x, y in zip(first, second, strict=True)
        )
    return first == second


def _same_model_but_durations(first, second) -> None:
    """The two model files hold the same tensors bit for bit and the same
    metadata but for the epochs' durations (``dur``) and the checksum."""
    (a, meta_a), (b, meta_b) = read_file(first), read_file(second)
    assert sorted(a) == sorted(b)
    for key in sorted(set(a) - {"metadata", "checksum"}):
        assert _equal(a[key], b[key]), key
    for meta in (meta_a, meta_b):
        for record in meta["history"]:
            record.pop("dur")
    assert meta_a == meta_b


# ------------------------------------------------------------ the done-when
@pytest.fixture(scope="module")
def pipeline(folder, tmp_path_factory):
    """fit twice with --seed 0 --holdout 0.2, then predict, score and info,
    through `python -m sktaaf` only; the folder and the processes."""
    tmp_path = tmp_path_factory.mktemp("pipeline")
    fits = []
    for name in ("a", "b"):
        fits.append(
            _sktaaf(
                "fit",
                folder / "train.gctx",
                *PARAMS,
                "--seed",
                "0",
                "--holdout",
                "0.2",
                "--holdout-out",
                f"test_{name}.gctx",
                "-o",
                f"model_{name}.pt",
                cwd=tmp_path,
            )  # fmt: skip
        )
        assert fits[-1].returncode == 0, fits[-1].stderr
    predicted = _sktaaf(
        "predict", "model_a.pt", "test_a.gctx", "-o", "inferred.gctx", cwd=tmp_path
    )
    scored = _sktaaf(
        "score", "model_a.pt", "test_a.gctx", "-o", "scores.csv", cwd=tmp_path
    )
    info = _sktaaf("info", "model_a.pt", "--json", cwd=tmp_path)
    return tmp_path, fits, predicted, scored, info


@pytest.mark.slow
def test_fit_holdout_predict_score_info_through_subprocesses(pipeline):
    """Issue 26's done-when: two fits with the same seed give the same model;
    the output carries the training file's row metadata for every target,
    marks the rows inferred and keeps the sample metadata; the scores are
    those of sktaaf.metrics."""
    tmp_path, fits, predicted, scored, info = pipeline
    assert "Held out 12 of 60 samples (seed 0)" in fits[0].stderr
    _same_model_but_durations(tmp_path / "model_a.pt", tmp_path / "model_b.pt")
    _, metadata = read_file(tmp_path / "model_a.pt")
    assert metadata["params"]["random_state"] == 0
    test_a, test_b = (
        load_gctx(tmp_path / "test_a.gctx"),
        load_gctx(tmp_path / "test_b.gctx"),
    )
    np.testing.assert_array_equal(test_a.y, test_b.y)
    assert test_a.X.shape == (12, N_LANDMARKS) and test_a.y.shape == (12, N_TARGETS)

    assert predicted.returncode == 0, predicted.stderr
    assert scored.returncode == 0, scored.stderr
    assert "over 6 genes x 12 samples" in scored.stdout
    assert info.returncode == 0, info.stderr
    card = json.loads(info.stdout)
    assert card["file"]["target_row_metadata_fields"] == [
        "pr_gene_id", "pr_gene_symbol", "pr_gene_title", "pr_is_lmark"
    ]  # fmt: skip

    out = load_gctx(tmp_path / "inferred.gctx")  # no arguments: no landmarks
    assert out.X.shape == (12, 0)
    _, train_rows, _ = _profiles()
    targets = list(train_rows.index[N_LANDMARKS:])
    assert list(out.target_ids) == targets
    for field in train_rows.columns:  # every field of the training file
        assert out.row_metadata.loc[targets, field].tolist() == (
            train_rows.loc[targets, field].tolist()
        ), field
    assert (out.row_metadata["pr_is_inferred"] == 1).all()
    assert out.row_metadata["pr_inference_mae"].notna().all()
    assert out.row_metadata["pr_inference_r"].between(-1, 1).all()
    assert set(out.row_metadata["pr_is_well_inferred"]) <= {0, 1}
    pd.testing.assert_frame_equal(out.col_metadata, test_a.col_metadata)
    model = TAAFRegressor.load(tmp_path / "model_a.pt")
    expected = model.predict(pd.DataFrame(test_a.X, columns=model.feature_names_in_))
    np.testing.assert_allclose(out.y, expected, rtol=1e-6, atol=1e-5)

    table = pd.read_csv(tmp_path / "scores.csv", index_col=0, dtype={"gene_id": str})
    assert table["pr_gene_symbol"].tolist() == [f"GENE{i}" for i in range(N_TARGETS)]
    np.testing.assert_allclose(
        table["mae"], per_gene_mae(test_a.y, expected), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        table["r"], per_gene_pearson(test_a.y, expected), rtol=1e-5, atol=1e-6
    )


@pytest.mark.slow
def test_cmappy_reads_the_output(pipeline):
    parse = pytest.importorskip("cmapPy.pandasGEXpress.parse")
    tmp_path = pipeline[0]
    out = load_gctx(tmp_path / "inferred.gctx")
    read = parse.parse(str(tmp_path / "inferred.gctx"))
    np.testing.assert_allclose(read.data_df.to_numpy().T, out.y, atol=1e-6)
    _, train_rows, _ = _profiles()
    targets = list(train_rows.index[N_LANDMARKS:])
    assert read.row_metadata_df.loc[targets, "pr_gene_title"].tolist() == (
        train_rows.loc[targets, "pr_gene_title"].tolist()
    )


# ----------------------------------------------------------------- --help
@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["fit", "--help"]])
def test_help_and_version_answer_without_torch(argv):
    code = (
        "import sys\n"
        "from sktaaf._cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "sktaaf" in done.stdout


def test_the_package_imports_its_estimators_on_first_use():
    code = (
        "import sys, sktaaf\n"
        "assert 'torch' not in sys.modules\n"
        "assert sktaaf.TAAFRegressor.__name__ == 'TAAFRegressor'\n"
        "assert 'TAAFRegressor' in dir(sktaaf)\n"
        "from sktaaf import DGEXRegressor, REFERENCE_SETTINGS\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        import sktaaf

        sktaaf.Nothing  # noqa: B018


# ------------------------------------------------------------------ --seed
@pytest.mark.parametrize(
    "options, seed",
    [
        ([], 0),
        (["--seed", "3"], 3),
        (["--param", "random_state=4"], 4),
        (["--seed", "4", "--param", "random_state=4"], 4),
        (["--param", "random_state=None"], None),
    ],
)
def test_the_seed_is_the_models_random_state(folder, tmp_path, options, seed):
    model = tmp_path / "m.pt"
    argv = ["fit", str(folder / "train.gctx"), "-q", *PARAMS, *options]
    assert main([*argv, "-o", str(model)]) == 0
    assert read_file(model)[1]["params"]["random_state"] == seed


def test_a_seed_that_disagrees_with_random_state_is_refused(folder, tmp_path, capsys):
    argv = ["fit", str(folder / "train.gctx"), "-q", "--seed", "1"]
    argv += ["--param", "random_state=2", "-o", str(tmp_path / "m.pt")]
    assert main(argv) == 2
    _one_line_error(capsys, "--seed 1 and --param random_state=2 disagree")
    assert not (tmp_path / "m.pt").exists()


# ---------------------------------------------------------------- holdout
def test_split_samples_is_seeded_and_sized():
    held = split_samples(50, 0.2, 0)
    assert held.sum() == 10
    np.testing.assert_array_equal(held, split_samples(50, 0.2, 0))
    assert not np.array_equal(held, split_samples(50, 0.2, 1))


@pytest.mark.parametrize(
    "options, message",
    [
        (["--holdout", "0.2"], "--holdout and --holdout-out go together"),
        (["--holdout", "1.5", "--holdout-out", "t.gctx"], "in (0, 1); got 1.5"),
        (["--holdout", "0.001", "--holdout-out", "t.gctx"], "holds out 0"),
        (["--holdout", "0.2", "--holdout-out", "{train}"], "replace its own input"),
        (["--holdout", "0.2", "--holdout-out", "m.pt"], "the same file"),
    ],
)
def test_holdout_mistakes_are_one_line(folder, tmp_path, capsys, options, message):
    options = [text.format(train=folder / "train.gctx") for text in options]
    os.chdir(tmp_path)
    argv = ["fit", str(folder / "train.gctx"), "-q", *PARAMS, *options, "-o", "m.pt"]
    assert main(argv) == 2
    _one_line_error(capsys, message)
    assert not (tmp_path / "m.pt").exists()


def test_holdout_trains_on_the_rest(folder, tmp_path):
    """The held-out file has every gene and the metadata of its samples; the
    model is trained on the other samples only."""
    test = tmp_path / "test.gct"
    argv = ["fit", str(folder / "train.gctx"), "-q", *PARAMS, "--holdout", "0.25"]
    argv += ["--holdout-out", str(test), "--param=early_stopping=False"]
    assert main([*argv, "-o", str(tmp_path / "m.pt")]) == 0
    from sktaaf.datasets import load_gct

    held = load_gct(test)
    full = load_gctx(folder / "train.gctx")
    assert len(held.sample_ids) == 15
    rows = [list(full.sample_ids).index(sample) for sample in held.sample_ids]
    np.testing.assert_array_equal(held.X, full.X[rows])
    np.testing.assert_array_equal(held.y, full.y[rows])
    pd.testing.assert_frame_equal(
        held.col_metadata, full.col_metadata.iloc[rows], check_dtype=False
    )
    history = read_file(tmp_path / "m.pt")[1]["history"]
    assert history[0]["train_batch_count"] == 3  # 45 samples, batches of 16


# ------------------------------------------------------------------ score
@pytest.fixture(scope="module")
def model(folder):
    path = folder / "model.pt"
    argv = ["fit", str(folder / "train.gctx"), "-q", *PARAMS]
    assert main([*argv, "-o", str(path)]) == 0
    return path


def test_score_writes_csv_and_markdown(folder, model, tmp_path, capsys):
    argv = ["score", str(model), str(folder / "train.gctx"), "-q"]
    argv += ["-o", str(tmp_path / "s.csv"), "--markdown", str(tmp_path / "s.md")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "mean MAE" in out and "over 6 genes x 60 samples" in out
    table = pd.read_csv(tmp_path / "s.csv", index_col=0)
    assert list(table.columns) == ["pr_gene_symbol", "mae", "r"]
    markdown = (tmp_path / "s.md").read_text().splitlines()
    assert markdown[0] == "| gene_id | pr_gene_symbol | mae | r |"
    assert len(markdown) == 2 + N_TARGETS and "| GENE0 |" in markdown[2]


def test_score_without_targets_is_one_line(folder, model, tmp_path, capsys):
    frame, rows, cols = _profiles()
    write_gctx(tmp_path / "lm.gctx", frame.iloc[:, :N_LANDMARKS], rows, cols)
    argv = ["score", str(model), str(tmp_path / "lm.gctx"), "-o", "s.csv"]
    assert main(argv) == 2
    _one_line_error(capsys, "has none of the model's 6 target genes")


def test_score_matches_targets_through_a_field(folder, model, capsys):
    argv = ["score", str(model), str(folder / "probes.gctx")]
    assert main(argv) == 2
    _one_line_error(capsys, "try --id-field pr_gene_id")
    assert main([*argv, "--id-field", "pr_gene_id"]) == 0
    assert "over 6 genes x 60 samples" in capsys.readouterr().out


# --------------------------------------------------------------- metadata
def test_older_models_without_row_metadata_still_predict(folder, tmp_path):
    """A model file without target_row_metadata (earlier versions) loads and
    predicts: its rows get the symbols and the inferred flags."""
    frame, _, _ = _profiles()
    X, y = frame.iloc[:, :N_LANDMARKS], frame.iloc[:, N_LANDMARKS:]
    estimator = TAAFRegressor(  # no early stopping: no per-gene scores either
        hidden_layer_sizes=(4,), max_epochs=1, early_stopping=False
    ).fit(X, y)
    save_estimator(estimator, tmp_path / "old.pt")
    out = tmp_path / "o.gctx"
    argv = ["predict", str(tmp_path / "old.pt"), str(folder / "train.gctx"), "-q"]
    assert main([*argv, "-o", str(out)]) == 0
    rows = load_gctx(out).row_metadata
    assert set(rows.columns) == {"pr_gene_symbol", "pr_is_lmark", "pr_is_inferred"}


def test_malformed_row_metadata_in_a_model_is_refused(folder, model, tmp_path):
    estimator = TAAFRegressor.load(model)
    save_estimator(
        estimator, tmp_path / "bad.pt", target_row_metadata={"pr_gene_id": [1, 2]}
    )
    with pytest.raises(ValueError, match="target_row_metadata 'pr_gene_id'"):
        TAAFRegressor.load(tmp_path / "bad.pt")


def test_pr_gene_id_holds_entrez_ids_only(folder, tmp_path, capsys):
    """With --symbols, probe ids go to pr_source_id, never to pr_gene_id;
    a model whose training file had pr_gene_id keeps that."""
    frame, rows, cols = _profiles("probe_id")
    rows = rows.drop(columns="pr_gene_id")
    write_gctx(tmp_path / "p.gctx", frame, rows, cols)
    model = tmp_path / "p.pt"
    assert main(["fit", str(tmp_path / "p.gctx"), "-q", *PARAMS, "-o", str(model)]) == 0
    out = tmp_path / "o.gctx"
    argv = ["predict", str(model), str(tmp_path / "p.gctx"), "--symbols", "-q"]
    assert main([*argv, "-o", str(out)]) == 0
    read = load_gctx(out).row_metadata
    assert "pr_gene_id" not in read
    assert read["pr_source_id"].tolist() == [f"{1000 + i}_at" for i in range(6)]
    argv = ["predict", str(folder / "model.pt"), str(folder / "train.gctx"), "-q"]
    assert main([*argv, "--symbols", "-o", str(out)]) == 0
    read = load_gctx(out).row_metadata
    assert read["pr_gene_id"].tolist() == list(range(900000, 900006))


def test_per_gene_scores_of_the_model_reach_the_rows(model):
    """When the model has target_scores_ (validation MAE and r per target),
    the output rows carry them (the library's inference_row_metadata, or the
    command's own until it exists)."""
    estimator, metadata = TAAFRegressor.load(model), read_file(model)[1]
    targets = list(estimator.target_names_)
    estimator.target_scores_ = pd.DataFrame(
        {"mae": np.linspace(0.1, 0.6, 6), "r": np.linspace(0.0, 0.9, 6)},
        index=targets,
    )
    genes = {"target_ids": targets, "target_symbols": None}
    _, rows = output_rows(estimator, metadata, genes, None, False, 0.5)
    np.testing.assert_allclose(rows["pr_inference_r"], np.linspace(0.0, 0.9, 6))
    np.testing.assert_allclose(rows["pr_inference_mae"], np.linspace(0.1, 0.6, 6))
    assert (rows["pr_is_inferred"] == 1).all()
    known = {"pr_inference_r", "pr_inference_mae", "pr_is_inferred"}
    known |= {"pr_gene_symbol", "pr_is_lmark"} | set(metadata["target_row_metadata"])
    flags = [name for name in rows if name not in known]  # the well-inferred flag
    assert len(flags) == 1 and rows[flags[0]].tolist() == [0, 0, 0, 1, 1, 1]


# --------------------------------------------------------------- id-field
def test_landmarks_by_a_metadata_field(folder, tmp_path, capsys):
    landmarks = tmp_path / "symbols.txt"
    symbols = map_landmark_ids(
        l1000_landmark_ids("entrez_id")[:N_LANDMARKS],
        from_type="entrez_id",
        to_type="symbol",
    )
    landmarks.write_text("\n".join(symbols))
    argv = ["fit", str(folder / "probes.gctx"), "-q", *PARAMS]
    argv += ["--landmarks", str(landmarks), "-o", str(tmp_path / "m.pt")]
    assert main(argv) == 2
    _one_line_error(capsys, "try --id-field pr_gene_symbol")
    assert main([*argv, "--id-field", "pr_gene_symbol"]) == 0
    model = TAAFRegressor.load(tmp_path / "m.pt")  # keyed by the file's rows
    assert list(model.feature_names_in_) == list(
        map_landmark_ids(
            l1000_landmark_ids("entrez_id")[:N_LANDMARKS],
            from_type="entrez_id",
            to_type="probe_id",
        )
    )
    assert main([*argv, "--id-field", "pr_nothing"]) == 2
    _one_line_error(capsys, "has no such row-metadata field")


@pytest.mark.parametrize(
    "id_type, hint",
    [
        ("entrez_id", "Its row ids hold 12 of the landmarks' probe_ids: try "
         "--id-type probe_id."),
        ("symbol", "try --id-type probe_id"),
    ],
)  # fmt: skip
def test_missing_landmarks_say_which_id_would_match(
    folder, tmp_path, capsys, id_type, hint
):
    argv = ["fit", str(folder / "probes.gctx"), "--landmarks", "l1000", "-q"]
    argv += ["--id-type", id_type, "-o", str(tmp_path / "m.pt")]
    assert main(argv) == 2
    _one_line_error(capsys, "lacks 978 of the 978 landmark genes", hint)


def test_symbols_in_a_field_are_suggested(folder, tmp_path, capsys):
    argv = ["fit", str(folder / "train.gctx"), "--landmarks", "l1000", "-q"]
    argv += ["--id-type", "symbol", "-o", str(tmp_path / "m.pt")]
    assert main(argv) == 2
    _one_line_error(capsys, "try --id-type entrez_id")


# ------------------------------------------------------------------- info
def test_info_prints_a_model_card(model, capsys):
    assert main(["info", str(model)]) == 0
    text = capsys.readouterr().out
    assert "TAAFRegressor" in text and "sha256: " in text
    assert main(["info", str(model), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["file"]["bytes"] == model.stat().st_size
    assert card["file"]["target_symbols_known"] == N_TARGETS


def test_info_on_a_missing_model_is_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "absent.pt")]) == 2
    _one_line_error(capsys, "No model file")


# ---------------------------------------------------------------- extras
def test_predict_without_h5py_names_the_extra(
    folder, model, tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "h5py", None)
    argv = ["predict", str(model), str(folder / "train.gctx")]
    assert main([*argv, "-o", str(tmp_path / "o.gctx")]) == 2
    _one_line_error(capsys, "h5py", "pip install 'sktaaf[io]'")


def test_predict_finds_the_landmarks_through_a_field(folder, model, tmp_path):
    """A model keyed by Entrez id predicts a file keyed by probe id through
    its pr_gene_id field (the file is then read into memory)."""
    out = tmp_path / "o.gctx"
    argv = ["predict", str(model), str(folder / "probes.gctx"), "-q"]
    assert main([*argv, "--id-field", "pr_gene_id", "-o", str(out)]) == 0
    by_probe = load_gctx(out).y
    argv = ["predict", str(model), str(folder / "train.gctx"), "-q"]
    assert main([*argv, "-o", str(out)]) == 0
    np.testing.assert_allclose(by_probe, load_gctx(out).y, rtol=1e-6, atol=1e-6)


def test_compare_per_gene_table_names_the_symbols():
    from sklearn.utils import Bunch

    from sktaaf._compare._report import _symbols

    _, rows, _ = _profiles()
    data = Bunch(row_metadata=rows)
    assert _symbols(data, ["900001", "900000"]) == ["GENE1", "GENE0"]
    assert _symbols(data, ["other"]) is None
    assert _symbols(Bunch(), ["900000"]) is None


@pytest.mark.parametrize("options", [[], ["--in-memory"]])
def test_the_same_seed_gives_the_same_model(folder, tmp_path, options):
    """Streamed from the GCTX file or read into memory, two fits with the
    same seed write the same model but for the epochs' durations."""
    for name in ("a", "b"):
        argv = ["fit", str(folder / "train.gctx"), "-q", *PARAMS, *options]
        assert main([*argv, "-o", str(tmp_path / f"{name}.pt")]) == 0
    _same_model_but_durations(tmp_path / "a.pt", tmp_path / "b.pt")


def test_r_threshold_is_a_correlation(folder, model, tmp_path, capsys):
    argv = ["predict", str(model), str(folder / "train.gctx"), "-o", "o.gctx"]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--r-threshold", "2"])
    assert exit_info.value.code == 2
    assert "expected a Pearson r in [-1, 1]" in capsys.readouterr().err


def test_the_commands_read_a_model_file_once(model, monkeypatch):
    """predict, score and info learn the class from the file's metadata and
    rebuild the estimator from what they read: one read, the same model as
    ``load``."""
    from sktaaf._cli._model import load_model
    from sktaaf._persistence import _format

    reads = []
    torch_load = _format.torch.load

    def counted(*args, **kwargs):
        reads.append(args[0])
        return torch_load(*args, **kwargs)

    monkeypatch.setattr(_format.torch, "load", counted)
    estimator, metadata = load_model(str(model), "cpu")
    assert len(reads) == 1
    assert metadata == read_file(model)[1]
    loaded = TAAFRegressor.load(model)
    X = np.random.RandomState(0).normal(size=(5, N_LANDMARKS)).astype(np.float32)
    X = pd.DataFrame(X, columns=loaded.feature_names_in_)
    np.testing.assert_array_equal(estimator.predict(X), loaded.predict(X))
