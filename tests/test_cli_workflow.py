"""The L1000 workflow from a GCTX file with metadata to a GCTX of inferred
genes: through the ``sktaaf`` command and through the Python API."""

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
from sktaaf.datasets import (  # noqa: E402
    l1000_landmark_ids,
    load_gctx,
    map_landmark_ids,
    write_gctx,
)

N_LANDMARKS, N_TARGETS = 40, 30
PARAMS = [
    "hidden_layer_sizes=(16,)",
    "max_epochs=3",
    "batch_size=32",
    "early_stopping=False",
    "random_state=0",
]


def _profiles(n_samples, seed, landmark_order=None):
    """A samples x genes frame keyed by Entrez id, with row and column
    metadata: the first 40 L1000 landmarks (flagged) and 30 targets."""
    rng = np.random.RandomState(seed)
    landmarks = list(l1000_landmark_ids("entrez_id")[:N_LANDMARKS])
    targets = [str(900000 + i) for i in range(N_TARGETS)]
    X = rng.normal(size=(n_samples, N_LANDMARKS)).astype(np.float32)
    W = rng.normal(size=(N_LANDMARKS, N_TARGETS)).astype(np.float32) / 6
    y = np.tanh(X @ W) + 5.0  # far from 0: standardisation must matter
    frame = pd.DataFrame(
        np.hstack([X, y]),
        index=[f"s{seed}_{i}" for i in range(n_samples)],
        columns=landmarks + targets,
    )
    if landmark_order is not None:
        frame = frame[[landmarks[i] for i in landmark_order] + targets]
    symbols = dict(
        zip(
            landmarks,
            map_landmark_ids(landmarks, from_type="entrez_id", to_type="symbol"),
            strict=True,
        )
    )
    symbols.update({gene: f"GENE{i}" for i, gene in enumerate(targets)})
    rows = pd.DataFrame(
        {
            "pr_gene_symbol": [symbols[gene] for gene in frame.columns],
            "pr_is_lmark": [int(gene in landmarks) for gene in frame.columns],
        },
        index=frame.columns,
    )
    cols = pd.DataFrame(
        {
            "cell_id": rng.choice(["A375", "MCF7"], n_samples),
            "pert_iname": rng.choice(["DMSO", "vorinostat"], n_samples),
        },
        index=frame.index,
    )
    return frame, rows, cols, targets


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workflow")
    train, rows, cols, targets = _profiles(120, seed=0)
    write_gctx(folder / "train.gctx", train, rows, cols)
    # The second file: landmark rows in another order, fewer samples.
    order = np.random.RandomState(1).permutation(N_LANDMARKS)
    new, new_rows, new_cols, _ = _profiles(25, seed=1, landmark_order=order)
    write_gctx(folder / "new.gctx", new, new_rows, new_cols)
    return folder, targets


def _sktaaf(*args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "sktaaf", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_command_line_workflow(files):
    """sktaaf fit, sktaaf predict on a file whose landmarks come in another
    order; the output GCTX has the target ids, symbols and sample metadata,
    and equals predict in Python."""
    folder, targets = files
    params = [item for text in PARAMS for item in ("--param", text)]
    fitted = _sktaaf("fit", "train.gctx", *params, "-o", "model.pt", cwd=folder)
    assert fitted.returncode == 0, fitted.stderr
    assert "40 landmark genes -> 30 targets" in fitted.stderr
    predicted = _sktaaf(
        "predict", "model.pt", "new.gctx", "-o", "inferred.gctx", cwd=folder
    )
    assert predicted.returncode == 0, predicted.stderr

    out = load_gctx(folder / "inferred.gctx", landmark_ids=[])
    assert list(out.target_ids) == targets
    symbols = out.row_metadata.loc[targets, "pr_gene_symbol"].tolist()
    assert symbols == [f"GENE{i}" for i in range(N_TARGETS)]
    new = load_gctx(folder / "new.gctx")
    assert list(out.sample_ids) == list(new.sample_ids)
    pd.testing.assert_frame_equal(out.col_metadata, new.col_metadata)

    model = TAAFRegressor.load(folder / "model.pt")
    landmarks = model.feature_names_in_
    assert list(landmarks) == list(l1000_landmark_ids("entrez_id")[:N_LANDMARKS])
    X = load_gctx(folder / "new.gctx", landmark_ids=landmarks).X
    expected = model.predict(pd.DataFrame(X, columns=landmarks))
    np.testing.assert_allclose(out.y, expected, rtol=1e-6, atol=1e-5)


def test_python_api_workflow(files, tmp_path):
    """The same workflow through the Python API, as the user guide shows it."""
    folder, targets = files
    train = load_gctx(folder / "train.gctx")  # landmarks from pr_is_lmark
    model = TAAFRegressor(
        hidden_layer_sizes=(16,),
        max_epochs=3,
        batch_size=32,
        early_stopping=False,
        random_state=0,
    )
    model.fit(
        pd.DataFrame(train.X, columns=train.landmark_ids),
        pd.DataFrame(train.y, columns=train.target_ids),
    )
    model.save(tmp_path / "model.pt")
    model = TAAFRegressor.load(tmp_path / "model.pt")

    new = load_gctx(folder / "new.gctx", model.feature_names_in_, target_ids=[])
    inferred = pd.DataFrame(
        model.predict(pd.DataFrame(new.X, columns=new.landmark_ids)),
        index=new.sample_ids,
        columns=train.target_ids,
    )
    write_gctx(
        tmp_path / "inferred.gctx",
        inferred,
        train.row_metadata.loc[train.target_ids, ["pr_gene_symbol"]],
        new.col_metadata,
    )
    out = load_gctx(tmp_path / "inferred.gctx", landmark_ids=[])
    assert list(out.target_ids) == targets
    assert out.row_metadata["pr_gene_symbol"].tolist()[:2] == ["GENE0", "GENE1"]
    np.testing.assert_allclose(out.y, inferred.to_numpy(), atol=1e-6)


@pytest.fixture(scope="module")
def model_path(files, tmp_path_factory):
    """A model fitted by main() in process (quietly)."""
    folder, _ = files
    path = tmp_path_factory.mktemp("model") / "m.pt"
    argv = ["fit", str(folder / "train.gctx"), "-q", "-o", str(path)]
    assert main(argv + [f"--param={text}" for text in PARAMS]) == 0
    return path


def test_predict_matches_by_id_not_order(files, model_path, tmp_path):
    """The landmark order of the input does not change the output; --symbols
    names the rows by symbol; a name ending in .gct writes GCT."""
    from sktaaf.datasets import load_gct

    folder, _ = files
    assert (
        main(
            [
                "predict",
                str(model_path),
                str(folder / "new.gctx"),
                "-q",
                "--symbols",
                "-o",
                str(tmp_path / "new.gct"),
            ]
        )
        == 0
    )
    model = TAAFRegressor.load(model_path)
    new = load_gctx(folder / "new.gctx", model.feature_names_in_)
    out = load_gct(tmp_path / "new.gct", landmark_ids=[])
    assert list(out.target_ids[:2]) == ["GENE0", "GENE1"]
    assert out.row_metadata["pr_gene_id"].astype(str).tolist()[0] == "900000"
    expected = model.predict(pd.DataFrame(new.X, columns=new.landmark_ids))
    np.testing.assert_allclose(out.y, expected, atol=1e-5)


def test_l1000_landmarks_and_landmark_file(files, tmp_path):
    folder, _ = files
    ids = l1000_landmark_ids("entrez_id")[:N_LANDMARKS][::-1]
    (tmp_path / "landmarks.txt").write_text("# mine\n" + "\n".join(ids) + "\n")
    params = [f"--param={text}" for text in PARAMS]
    assert (
        main(
            [
                "fit",
                str(folder / "train.gctx"),
                "-q",
                "--landmarks",
                str(tmp_path / "landmarks.txt"),
                "--model",
                "dgex",
                *params,
                "-o",
                str(tmp_path / "m.pt"),
            ]
        )
        == 0
    )
    from sktaaf import DGEXRegressor

    assert list(DGEXRegressor.load(tmp_path / "m.pt").feature_names_in_) == list(ids)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "{folder}/absent.gctx", "-o", "{tmp}/m.pt"], "No profiles file"),
        (
            ["fit", "{folder}/train.gctx", "--landmarks", "l1000", "-o", "{tmp}/m.pt"],
            "lacks 938 of the 978 landmark genes",
        ),
        (
            [
                "fit",
                "{folder}/train.gctx",
                "--param",
                "max_epoch=3",
                "-o",
                "{tmp}/m.pt",
            ],
            "has no parameter max_epoch",
        ),
        (
            ["fit", "{folder}/train.gctx", "--param", "max_epochs", "-o", "{tmp}/m.pt"],
            "--param takes key=value",
        ),
        (
            [
                "fit",
                "{folder}/train.gctx",
                "--param",
                "max_epochs=-1",
                "-o",
                "{tmp}/m.pt",
            ],
            "max_epochs",
        ),
        (
            ["predict", "{tmp}/absent.pt", "{folder}/new.gctx", "-o", "{tmp}/o.gctx"],
            "No model file",
        ),
        (["fit", "{folder}/train.txt", "-o", "{tmp}/m.pt"], "No profiles file"),
    ],
)
def test_user_errors_exit_2_with_one_line(files, tmp_path, capsys, argv, message):
    folder, _ = files
    argv = [a.format(folder=folder, tmp=tmp_path) for a in argv]
    assert main(argv + ["-q"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_predict_lists_missing_landmarks(model_path, tmp_path, capsys):
    frame, rows, cols, _ = _profiles(5, seed=2)
    dropped = list(frame.columns[[3, 7]])
    frame = frame.drop(columns=dropped)
    write_gctx(tmp_path / "partial.gctx", frame, rows.drop(index=dropped), cols)
    argv = ["predict", str(model_path), str(tmp_path / "partial.gctx"), "-q"]
    assert main(argv + ["-o", str(tmp_path / "o.gctx")]) == 2
    err = capsys.readouterr().err
    assert (
        f"lacks 2 of the 40 landmark genes (matched by row id): {dropped[0]}, "
        f"{dropped[1]}." in err
    )
    assert not (tmp_path / "o.gctx").exists()


def test_npz_profiles(files, tmp_path, capsys):
    """A .npz file (matrix, gene_ids) needs --landmarks; predict reads one
    with its columns in another order."""
    folder, targets = files
    train = load_gctx(folder / "train.gctx")
    ids = list(train.landmark_ids) + list(train.target_ids)
    np.savez(
        tmp_path / "train.npz",
        matrix=np.hstack([train.X, train.y]),
        gene_ids=np.array(ids, dtype=str),
    )
    model = str(tmp_path / "m.pt")
    argv = ["fit", str(tmp_path / "train.npz"), "-q", "-o", model]
    assert main(argv) == 2
    assert "give --landmarks" in capsys.readouterr().err
    (tmp_path / "landmarks.txt").write_text("\n".join(train.landmark_ids))
    params = [f"--param={text}" for text in PARAMS]
    argv += ["--landmarks", str(tmp_path / "landmarks.txt"), *params]
    assert main(argv) == 0
    new = load_gctx(folder / "new.gctx")  # landmarks in the file's order
    np.savez(tmp_path / "new.npz", matrix=new.X, gene_ids=new.landmark_ids.astype(str))
    out_path = str(tmp_path / "out.gctx")
    assert (
        main(["predict", model, str(tmp_path / "new.npz"), "-q", "-o", out_path]) == 0
    )
    out = load_gctx(out_path, landmark_ids=[])
    assert list(out.target_ids) == targets
    # Neither file holds symbols, nor are the targets L1000 landmarks.
    assert out.row_metadata["pr_gene_symbol"].isna().all()
    fitted = TAAFRegressor.load(model)
    X = load_gctx(folder / "new.gctx", fitted.feature_names_in_).X
    expected = fitted.predict(pd.DataFrame(X, columns=fitted.feature_names_in_))
    np.testing.assert_allclose(out.y, expected, atol=1e-5)


@pytest.mark.parametrize("command", ["fit", "predict"])
def test_help_has_examples(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"sktaaf {command} " in out
