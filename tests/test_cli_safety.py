"""The ``sktaaf`` command never loses the user's data (issue 21): no output
replaces an input or a non-regular file, the genes travel inside the model
file, genes files of older models are checked, Ctrl-C exits 130, and every
mistake is one line on stderr with exit status 2, found before any long work."""

import json
import os
import resource
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("h5py")

from sktaaf import TAAFRegressor  # noqa: E402
from sktaaf._cli import main  # noqa: E402
from sktaaf._cli._profiles import read_id_list  # noqa: E402
from sktaaf._compare._data import read_ids  # noqa: E402
from sktaaf._persistence._format import read_file  # noqa: E402
from sktaaf._save_load import save_estimator  # noqa: E402
from sktaaf.datasets import load_gct, load_gctx, write_gctx  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
N_SAMPLES, N_LANDMARKS, N_TARGETS = 40, 5, 4
LANDMARKS = [f"L{i}" for i in range(N_LANDMARKS)]
TARGETS = [f"T{i}" for i in range(N_TARGETS)]
PARAMS = [
    "--param=hidden_layer_sizes=(8,)",
    "--param=max_epochs=2",
    "--param=early_stopping=False",
    "--param=random_state=0",
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """train.gctx (landmarks flagged by pr_is_lmark, symbols SYM_*), a list of
    its landmarks and of its targets, and a model fitted on it."""
    folder = tmp_path_factory.mktemp("safety")
    rng = np.random.RandomState(0)
    genes = LANDMARKS + TARGETS
    frame = pd.DataFrame(
        rng.normal(size=(N_SAMPLES, len(genes))).astype(np.float32),
        index=[f"s{i}" for i in range(N_SAMPLES)],
        columns=genes,
    )
    rows = pd.DataFrame(
        {
            "pr_is_lmark": [int(gene in LANDMARKS) for gene in genes],
            "pr_gene_symbol": [f"SYM_{gene}" for gene in genes],
        },
        index=genes,
    )
    write_gctx(folder / "train.gctx", frame, rows)
    (folder / "landmarks.txt").write_text("\n".join(LANDMARKS) + "\n")
    (folder / "targets.txt").write_text("\n".join(TARGETS) + "\n")
    argv = ["fit", str(folder / "train.gctx"), "-q", *PARAMS]
    assert main([*argv, "-o", str(folder / "model.pt")]) == 0
    return folder


def _one_line_error(capsys, *names) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err and ": error: " in err, err
    for name in names:
        assert str(name) in err, err
    return err


def _sktaaf(*args, cwd, preexec_fn=None, **options):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen(
        [sys.executable, "-m", "sktaaf", *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
        **options,
    )


# ----------------------------------------------- 1. outputs never replace inputs
@pytest.mark.parametrize(
    "output, named",
    [
        ("train.gctx", "the profiles file"),
        ("link.gctx", "the profiles file"),  # a symbolic link to it
        ("hard.gctx", "the profiles file"),  # a hard link to it
        ("landmarks.txt", "the landmarks file"),
        ("targets.txt", "the targets file"),
    ],
)
def test_fit_never_writes_over_its_inputs(folder, tmp_path, capsys, output, named):
    work = tmp_path
    for name in ("train.gctx", "landmarks.txt", "targets.txt"):
        (work / name).write_bytes((folder / name).read_bytes())
    (work / "link.gctx").symlink_to(work / "train.gctx")
    os.link(work / "train.gctx", work / "hard.gctx")
    before = (work / "train.gctx").read_bytes()
    argv = ["fit", str(work / "train.gctx"), *PARAMS]
    argv += ["--landmarks", str(work / "landmarks.txt")]
    argv += ["--targets", str(work / "targets.txt"), "-o", str(work / output)]
    assert main(argv) == 2
    err = _one_line_error(capsys, named, work / output)
    assert "Training" not in err  # refused before any work
    assert (work / "train.gctx").read_bytes() == before
    assert (work / "landmarks.txt").read_text().split() == LANDMARKS


@pytest.mark.parametrize(
    "output, named",
    [
        ("model.pt", "the model file"),
        ("train.gctx", "the profiles file"),
        ("link.gctx", "the profiles file"),
        ("model.pt.genes.json", "the model's genes file"),
    ],
)
def test_predict_never_writes_over_its_inputs(folder, tmp_path, capsys, output, named):
    for name in ("train.gctx", "model.pt"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    (tmp_path / "link.gctx").symlink_to(tmp_path / "train.gctx")
    (tmp_path / "model.pt.genes.json").write_text("{}")  # an older model's
    files = {path: path.read_bytes() for path in tmp_path.iterdir()}
    argv = ["predict", str(tmp_path / "model.pt"), str(tmp_path / "train.gctx")]
    assert main([*argv, "-o", str(tmp_path / output)]) == 2
    err = _one_line_error(capsys, named, tmp_path / output)
    assert "Inferring" not in err
    assert {path: path.read_bytes() for path in tmp_path.iterdir()} == files


def test_compare_out_never_replaces_the_data(folder, tmp_path, capsys):
    """--out the --data file itself, an existing file, or a folder where a
    results file would replace the data: refused before any fit."""
    data = tmp_path / "per_gene.npz"
    train = load_gctx(folder / "train.gctx")
    np.savez(data, matrix=np.hstack([train.X, train.y]), gene_ids=LANDMARKS + TARGETS)
    before = data.read_bytes()
    argv = [
        "compare",
        "--data",
        str(data),
        "--landmarks",
        str(folder / "landmarks.txt"),
    ]
    argv += ["--in-process", "--epochs", "1", "--models", "linear", "--no-plots"]
    for out, message in [
        (data, "is the --data file, not a folder"),
        (folder / "landmarks.txt", "is the --landmarks file, not a folder"),
        (tmp_path, "'per_gene.npz' written there would replace the --data file"),
    ]:
        assert main([*argv, "--out", str(out)]) == 2
        err = _one_line_error(capsys, message, out)
        assert data.read_bytes() == before
    (tmp_path / "results.txt").write_text("mine")
    assert main([*argv, "--out", str(tmp_path / "results.txt")]) == 2
    err = _one_line_error(capsys, "is a file, not a folder")
    assert "[" not in err  # before any fit: no progress line


# ------------------------------------- 2. non-regular and unwritable targets
def _targets(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    return [
        ("", "empty"),
        ("/", "is a folder"),
        (str(tmp_path / "folder"), "is a folder"),
        (str(tmp_path / "new") + "/", "ends in a slash"),
        ("/dev/null", "not a regular file"),
        (str(tmp_path / "fifo"), "not a regular file"),
        (str(tmp_path / "missing" / "out"), "does not exist"),
    ]


@pytest.mark.parametrize("command", ["fit", "predict"])
def test_unusable_outputs_are_refused_before_any_work(
    folder, tmp_path, capsys, command
):
    if command == "fit":
        argv = ["fit", str(folder / "train.gctx"), *PARAMS]
    else:
        argv = ["predict", str(folder / "model.pt"), str(folder / "train.gctx")]
    for output, message in _targets(tmp_path):
        assert main([*argv, "-o", output]) == 2, output
        err = _one_line_error(capsys, message)
        assert "Training" not in err and "Inferring" not in err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo").st_mode)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root may write into read-only folders",
)
def test_read_only_output_folder_is_refused_first(folder, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        argv = ["fit", str(folder / "train.gctx"), *PARAMS]
        assert main([*argv, "-o", str(locked / "m.pt")]) == 2
        err = _one_line_error(capsys, "is not writable", locked)
        assert "Training" not in err
    finally:
        locked.chmod(0o755)


def _file_size_limit(n_bytes):
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, n_bytes))

    return limit


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="no RLIMIT_FSIZE")
def test_write_failures_are_one_line_naming_the_file(folder, tmp_path):
    """A file size limit too small for the model (fit) or the .gct output
    (predict): one line naming the file and the cause, exit 2, no file left."""
    fit = _sktaaf(
        "fit",
        folder / "train.gctx",
        "-q",
        *PARAMS,
        "-o",
        tmp_path / "m.pt",
        cwd=tmp_path,
        preexec_fn=_file_size_limit(4096),
    )
    predict = _sktaaf(
        "predict",
        folder / "model.pt",
        folder / "train.gctx",
        "-q",
        "-o",
        tmp_path / "out.gct",
        cwd=tmp_path,
        preexec_fn=_file_size_limit(1024),
    )
    for process, path in [(fit, tmp_path / "m.pt"), (predict, tmp_path / "out.gct")]:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 2, err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert str(path) in err and "file size limit" in err, err
    assert sorted(os.listdir(tmp_path)) == []  # no partial files


# --------------------------------------------- 5. the genes travel in the model
def test_fit_keeps_the_genes_inside_the_model(folder, tmp_path, capsys):
    """No genes file for new models: a folder, a stale file or anything else at
    its path never leaves the model without its genes or with stale ones."""
    (tmp_path / "m.pt.genes.json").mkdir()
    (tmp_path / "n.pt.genes.json").write_text(
        json.dumps(
            {
                "format": "sktaaf-genes",
                "version": 1,
                "target_ids": TARGETS,
                "target_symbols": ["STALE"] * N_TARGETS,
            }
        )
    )
    for name in ("m.pt", "n.pt"):
        argv = ["fit", str(folder / "train.gctx"), "-q", *PARAMS]
        assert main([*argv, "-o", str(tmp_path / name)]) == 0
        _, metadata = read_file(tmp_path / name)
        assert metadata["gene_symbols"] == {
            "landmarks": [f"SYM_{gene}" for gene in LANDMARKS],
            "targets": [f"SYM_{gene}" for gene in TARGETS],
        }
        # The profiles to predict hold no symbols: they come from the model.
        frame = load_gctx(folder / "train.gctx").X
        write_gctx(
            tmp_path / "new.gctx",
            pd.DataFrame(frame, columns=LANDMARKS, index=[f"n{i}" for i in range(40)]),
        )
        argv = ["predict", str(tmp_path / name), str(tmp_path / "new.gctx"), "-q"]
        assert main([*argv, "-o", str(tmp_path / "out.gct")]) == 0
        out = load_gct(tmp_path / "out.gct", landmark_ids=[])
        assert list(out.row_metadata["pr_gene_symbol"]) == [
            f"SYM_{gene}" for gene in TARGETS
        ]
    assert (tmp_path / "m.pt.genes.json").is_dir()  # not ours: left alone
    assert not (tmp_path / "n.pt.genes.json").exists()  # stale: removed


# ----------------------------------------------- 6. genes files are validated
@pytest.fixture(scope="module")
def old_model(folder):
    """A model as earlier versions of the command wrote it: no gene symbols
    inside, a genes file beside it."""
    train = load_gctx(folder / "train.gctx")
    model = TAAFRegressor(hidden_layer_sizes=(8,), max_epochs=1, random_state=0)
    model.fit(
        pd.DataFrame(train.X, columns=LANDMARKS),
        pd.DataFrame(train.y, columns=TARGETS),
    )
    path = folder / "old" / "old.pt"
    path.parent.mkdir()
    model.save(path)
    return path


def _genes(**changes):
    content = {
        "format": "sktaaf-genes",
        "version": 1,
        "landmark_ids": LANDMARKS,
        "target_ids": TARGETS,
        "landmark_symbols": [f"OLD_{gene}" for gene in LANDMARKS],
        "target_symbols": [f"OLD_{gene}" for gene in TARGETS],
    }
    content.update(changes)
    return json.dumps(content)


def test_an_older_models_genes_file_is_still_read(folder, old_model, tmp_path):
    genes = Path(str(old_model) + ".genes.json")
    genes.write_text(_genes())
    argv = ["predict", str(old_model), str(folder / "train.gctx"), "-q"]
    assert main([*argv, "-o", str(tmp_path / "out.gct")]) == 0
    out = load_gct(tmp_path / "out.gct", landmark_ids=[])
    assert list(out.row_metadata["pr_gene_symbol"]) == [f"OLD_{g}" for g in TARGETS]


@pytest.mark.parametrize(
    "content, message",
    [
        (_genes(target_symbols="ABCD"), "its target_symbols is 'ABCD'"),
        (_genes(target_symbols=[1, 2, 3, 4]), "its target_symbols is [1, 2, 3, 4]"),
        (_genes(target_symbols=[{}, [], None, "x"]), "its target_symbols is"),
        (_genes(target_ids=TARGETS[:2]), "its target_ids is"),
        (_genes(target_ids=TARGETS[::-1]), "target ids differ from the model's"),
        (_genes(landmark_ids="L0"), "its landmark_ids is 'L0'"),
        ("[" * 100_000, "nested too deeply"),
        ('{"format": "sktaaf-genes"', "Cannot read the genes file"),
        ("[]", "not an sktaaf genes file"),
    ],
)
def test_a_malformed_genes_file_is_one_line_naming_it(
    folder, old_model, tmp_path, capsys, content, message
):
    genes = Path(str(old_model) + ".genes.json")
    genes.write_text(content)
    try:
        argv = ["predict", str(old_model), str(folder / "train.gctx")]
        assert main([*argv, "-o", str(tmp_path / "out.gctx")]) == 2
        _one_line_error(capsys, message, genes)
        assert not (tmp_path / "out.gctx").exists()
    finally:
        genes.unlink()


def test_malformed_gene_symbols_inside_a_model_are_refused(folder, tmp_path, capsys):
    model = TAAFRegressor.load(folder / "model.pt")
    path = tmp_path / "bad.pt"
    save_estimator(model, path, gene_symbols={"landmarks": "ABCD", "targets": []})
    with pytest.raises(ValueError, match="gene_symbols landmarks is 'ABCD'"):
        TAAFRegressor.load(path)
    argv = ["predict", str(path), str(folder / "train.gctx")]
    assert main([*argv, "-o", str(tmp_path / "out.gctx")]) == 2
    _one_line_error(capsys, "gene_symbols", path)


# ------------------------------------------------------------ 7. id lists
def test_id_lists_are_read_in_linear_time(tmp_path):
    """No duplicate check by ``list.count`` per id (quadratic: 20,000 ids took
    11 s); checked deterministically: ``list.count`` is never called."""
    ids = [f"G{i}" for i in range(20_000)]
    (tmp_path / "ids.txt").write_text("\n".join(ids))
    calls = []

    def profile(frame, event, arg):
        if event == "c_call" and getattr(arg, "__name__", "") == "count":
            calls.append(arg)

    sys.setprofile(profile)
    try:
        read = read_id_list(str(tmp_path / "ids.txt"), "")
        read_compare = read_ids(tmp_path / "ids.txt")
    finally:
        sys.setprofile(None)
    assert calls == []
    assert list(read) == ids and read_compare == ids


def test_id_lists_with_a_byte_order_mark(tmp_path):
    (tmp_path / "ids.txt").write_text("\ufeffL0\nL1\n", encoding="utf-8")
    assert list(read_id_list(str(tmp_path / "ids.txt"), "")) == ["L0", "L1"]
    assert read_ids(tmp_path / "ids.txt") == ["L0", "L1"]


def test_compare_reads_an_ids_file_named_l1000(tmp_path, monkeypatch):
    """``l1000`` is the shipped list only for the fit command's --landmarks;
    compare's --landmarks is always a file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "l1000").write_text("L0\nL1\n")
    assert read_ids(Path("l1000")) == ["L0", "L1"]


@pytest.mark.parametrize(
    "content, message", [("# none\n", "lists no ids"), ("T0\nT1\nT0\n", "T0")]
)
def test_a_bad_targets_file_is_called_the_targets_file(
    folder, tmp_path, capsys, content, message
):
    (tmp_path / "targets.txt").write_text(content)
    argv = ["fit", str(folder / "train.gctx"), "--targets", str(tmp_path / "t.txt")]
    (tmp_path / "t.txt").write_text(content)
    assert main([*argv, "-o", str(tmp_path / "m.pt")]) == 2
    err = _one_line_error(capsys, "The targets file", message)
    assert "landmarks file" not in err


# ------------------------------------------------------------- 17. Ctrl-C
def _default_sigint():
    # The test suite may run with SIGINT ignored (a background job), which
    # the command would inherit; Ctrl-C acts on a foreground command.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_during_fit_exits_130(folder, tmp_path):
    process = _sktaaf(
        "fit",
        folder / "train.gctx",
        "--param=hidden_layer_sizes=(8,)",
        "--param=max_epochs=10000000",
        "--param=early_stopping=False",
        "-o",
        tmp_path / "m.pt",
        cwd=tmp_path,
        preexec_fn=_default_sigint,
    )
    try:
        for _ in range(3):  # three epochs trained: the training loop runs
            assert process.stdout.readline().startswith("epoch"), process.stderr
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "training was interrupted (Ctrl-C)" in err, err
    assert "Traceback" not in err and "Saved the model" not in err
    assert TAAFRegressor.load(tmp_path / "m.pt").n_iter_ >= 3  # said, and saved


# -------------------------------------------------- unclear errors, one line
def _gctx_named_h5(folder, tmp_path):
    (tmp_path / "x.h5").write_bytes((folder / "train.gctx").read_bytes())
    return tmp_path / "x.h5", "it is a GCTX file: name it .gctx"


def _truncated_npz(folder, tmp_path):
    train = load_gctx(folder / "train.gctx")
    np.savez(tmp_path / "t.npz", matrix=train.X, gene_ids=LANDMARKS)
    data = (tmp_path / "t.npz").read_bytes()
    (tmp_path / "t.npz").write_bytes(data[: len(data) // 2])
    return tmp_path / "t.npz", "Cannot read"


def _strings_npz(folder, tmp_path):
    np.savez(
        tmp_path / "s.npz",
        matrix=np.full((4, N_LANDMARKS + 1), "a"),
        gene_ids=[*LANDMARKS, "T0"],
    )
    return tmp_path / "s.npz", "The array 'matrix' of"


@pytest.mark.parametrize("make", [_gctx_named_h5, _truncated_npz, _strings_npz])
def test_unreadable_profiles_are_named(folder, tmp_path, capsys, make):
    path, message = make(folder, tmp_path)
    argv = ["fit", str(path), "--landmarks", str(folder / "landmarks.txt")]
    assert main([*argv, "-o", str(tmp_path / "m.pt")]) == 2
    _one_line_error(capsys, message, path)


def test_bad_params_are_one_line(folder, tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    argv = ["fit", str(folder / "train.gctx"), "-o", str(tmp_path / "m.pt")]
    for param, message in [
        (f"checkpoint_dir={tmp_path / 'a_file'}", "not a folder"),
        ("checkpoint_dir=", "an empty path"),
        ("max_epochs=" + "-" * 100_000 + "1", "--param max_epochs"),
        ("max_epochs=" + "-" * 1_900 + "1", "max_epochs"),
    ]:
        assert main([*argv, "--param", param]) == 2
        err = _one_line_error(capsys, message)
        assert "Training" not in err and len(err) < 2500


def _compare_argv(folder, *more):
    return [
        "compare",
        "--in-process",
        "--no-plots",
        "--epochs",
        "1",
        "--models",
        "linear",
        *map(str, more),
    ]


def test_compare_user_errors_name_the_option(folder, tmp_path, capsys):
    np.save(tmp_path / "objects.npy", np.array([[1, "a"]], dtype=object))
    landmarks = folder / "landmarks.txt"
    for more, message in [
        (["--extra-model", "x=os:system"], "not an estimator class"),
        (["--data", folder / "train.gctx", "--landmarks", tmp_path], "is a folder"),
        (["--data", tmp_path / "objects.npy", "--landmarks", landmarks], "objects.npy"),
    ]:
        assert main(_compare_argv(folder, *more)) == 2
        _one_line_error(capsys, message)
    with pytest.raises(SystemExit) as exit_info:
        main(_compare_argv(folder, "--seed", "-1"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--seed must be in [0," in err and "random_state" not in err
