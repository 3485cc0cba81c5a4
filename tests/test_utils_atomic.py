"""Every writer of sktaaf (write_gctx, write_gct, save, to_torchscript, to_onnx)
replaces a file whole or not at all, never replaces what is not a regular file,
keeps the file's permissions, accepts any valid file name and reports a full
disk clearly, without a crash (sktaaf._utils._atomic)."""

import os
import stat
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import make_data

from sktaaf import TAAFRegressor
from sktaaf._utils._atomic import DeferredErrorsFile, atomic_write
from sktaaf.datasets import load_gct, load_gctx, write_gct, write_gctx
from sktaaf.export import to_onnx, to_torchscript

pd = pytest.importorskip("pandas")
pytest.importorskip("h5py")

WRITERS = ["gctx", "gct", "gct.gz", "model", "torchscript", "onnx"]


@pytest.fixture(scope="module")
def model():
    X, y = make_data(n_samples=40, n_features=4, n_targets=2)
    return TAAFRegressor(hidden_layer_sizes=(4,), max_epochs=1, random_state=0).fit(
        X, y
    )


def _frame():
    return pd.DataFrame(
        np.arange(6, dtype=np.float32).reshape(2, 3),
        index=["s1", "s2"],
        columns=["g1", "g2", "g3"],
    )


def _write(kind, path, model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit
        if kind == "gctx":
            write_gctx(path, _frame())
        elif kind in ("gct", "gct.gz"):
            write_gct(path, _frame())
        elif kind == "model":
            model.save(path)
        elif kind == "torchscript":
            to_torchscript(model, path)
        else:
            pytest.importorskip("onnx")
            to_onnx(model, path, dynamo=False)


def _leftovers(folder):
    return [name for name in os.listdir(folder) if name.endswith(".partial")]


@pytest.mark.parametrize("kind", WRITERS)
def test_a_path_that_is_no_file_name_is_refused_naming_it(kind, model):
    with pytest.raises(TypeError, match="expected a file name .* got NoneType"):
        _write(kind, None, model)


@pytest.mark.parametrize("kind", WRITERS)
def test_a_fifo_or_a_device_is_refused_never_replaced(kind, tmp_path, model):
    fifo = tmp_path / f"pipe.{kind}"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match=r"pipe\.\S+'.*a FIFO \(named pipe\), not a"):
        _write(kind, fifo, model)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    # A link to a device (as /dev/null is): the device is not touched.
    link = tmp_path / f"null.{kind}"
    link.symlink_to("/dev/null")
    with pytest.raises(OSError, match=r"null\.\S+'.*a character device"):
        _write(kind, link, model)
    assert link.is_symlink() and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert _leftovers(tmp_path) == []


def test_a_device_node_is_not_replaced(tmp_path, model):
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    for kind in ("gctx", "gct", "model"):
        with pytest.raises(OSError, match="a character device"):
            _write(kind, node, model)
        assert stat.S_ISCHR(os.lstat(node).st_mode)


@pytest.mark.parametrize("kind", WRITERS)
def test_a_folder_is_refused_naming_it(kind, tmp_path, model):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match=r"'.*out'.*it is a folder"):
        _write(kind, folder, model)
    assert folder.is_dir() and not list(folder.iterdir())


@pytest.mark.parametrize("kind", WRITERS)
def test_permissions_are_kept_and_new_files_follow_the_umask(kind, tmp_path, model):
    path = tmp_path / f"out.{kind}"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)
    _write(kind, path, model)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_bytes() != b"old"
    old_umask = os.umask(0o027)
    try:
        _write(kind, tmp_path / f"new.{kind}", model)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(tmp_path / f"new.{kind}").st_mode) == 0o640


@pytest.mark.parametrize("kind", ["gctx", "gct", "model"])
def test_root_keeps_the_owner_of_a_file_written_over(kind, tmp_path, model):
    if os.geteuid() != 0:
        pytest.skip("only root may give a file to another user")
    path = tmp_path / f"out.{kind}"
    path.write_bytes(b"old")
    os.chown(path, 12345, 23456)
    os.chmod(path, 0o640)
    _write(kind, path, model)
    status = os.stat(path)
    assert (status.st_uid, status.st_gid) == (12345, 23456)
    assert stat.S_IMODE(status.st_mode) == 0o640


READ_ONLY_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import numpy as np, pandas as pd
    from sktaaf.datasets import write_gctx

    frame = pd.DataFrame(np.eye(2), index=["s1", "s2"], columns=["g1", "g2"])
    # Every module the writer imports lazily (h5py, ...), imported while root:
    # the virtual environment may be in a folder that nobody cannot read.
    warm = os.path.join(sys.argv[1], "warm.gctx")
    write_gctx(warm, frame)
    os.remove(warm)
    if os.geteuid() == 0:
        os.setuid(65534)  # root may write any file: run as nobody
    path = os.path.join(sys.argv[1], "out.gctx")
    try:
        write_gctx(path, frame)
    except PermissionError as exc:
        print(exc)
    """
)


@pytest.fixture
def open_folder():
    """A folder every user may write in (pytest's tmp_path is root's alone)."""
    import shutil
    import tempfile

    folder = tempfile.mkdtemp()
    os.chmod(folder, 0o777)
    yield Path(folder)
    shutil.rmtree(folder)


def test_a_read_only_file_is_refused(open_folder):
    """Writing over a read-only file is refused, as a shell redirection would
    refuse it (the atomic rename could replace it: the folder is writable)."""
    tmp_path = open_folder
    path = tmp_path / "out.gctx"
    path.write_bytes(b"keep")
    os.chmod(path, 0o444)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    process = subprocess.run(
        [sys.executable, "-c", READ_ONLY_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd="/",
    )
    assert process.returncode == 0, process.stderr[-3000:]
    assert "out.gctx': the file is read-only" in process.stdout, process.stderr
    assert path.read_bytes() == b"keep" and _leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", WRITERS)
def test_a_link_to_a_file_is_kept_and_its_file_written(kind, tmp_path, model):
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / f"file.{kind}"
    real.write_bytes(b"old")
    link = tmp_path / f"link.{kind}"
    link.symlink_to(real)
    _write(kind, link, model)
    assert link.is_symlink() and real.read_bytes() != b"old"
    assert _leftovers(tmp_path) == [] and _leftovers(tmp_path / "real") == []


@pytest.mark.parametrize("kind", WRITERS)
@pytest.mark.parametrize("length", [250, 255])
def test_the_longest_file_names_can_be_written(kind, length, tmp_path, model):
    suffix = f".{kind}"
    path = tmp_path / ("n" * (length - len(suffix)) + suffix)
    _write(kind, path, model)
    assert path.is_file() and _leftovers(tmp_path) == []


def test_a_gzipped_gct_names_its_file_not_the_temporary_one(tmp_path):
    path = write_gct(tmp_path / "out.gct.gz", _frame())
    header = path.read_bytes()[:40]
    assert b"out.gct\x00" in header and b"partial" not in header


def test_a_failure_inside_the_block_leaves_the_old_file(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(path) as partial:
            partial.write_bytes(b"new, half written")
            raise KeyboardInterrupt
    assert path.read_bytes() == b"old" and _leftovers(tmp_path) == []


def test_deferred_errors_file_raises_on_close(tmp_path):
    (tmp_path / "x").write_bytes(b"")
    file = DeferredErrorsFile(tmp_path / "x")
    file._file.close()  # every write now fails
    file._file = open(tmp_path / "x", "rb", buffering=0)  # noqa: SIM115
    assert file.write(b"abc") == 3 and file.failed
    with pytest.raises(OSError):
        file.close()


def test_ctrl_c_is_held_back_from_the_library_then_raised(tmp_path, ctrl_c_raises):
    import signal

    (tmp_path / "x").write_bytes(b"")
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with DeferredErrorsFile(tmp_path / "x") as file:
            os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt here
            assert file.interrupted and file.failed
            assert file.write(b"abc") == 3
    assert signal.getsignal(signal.SIGINT) is handler


# Ctrl-C at random moments of write_gctx, in a fresh process: HDF5 called into
# Python, the KeyboardInterrupt escaped into it and the process died with
# SIGSEGV at exit (4 of 30 trials before the fix).
CTRL_C_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    import numpy as np, pandas as pd
    from sktaaf.datasets import load_gctx, write_gctx

    # Python's Ctrl-C, even where the suite runs with SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    path = os.path.join(sys.argv[1], "out.gctx")
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(rng.normal(size=(2000, 2000)).astype("f4"))
    frame.index = [f"s{i}" for i in range(2000)]
    frame.columns = [f"g{i}" for i in range(2000)]
    start = time.perf_counter()
    write_gctx(path, frame, compression_level=None)
    duration = time.perf_counter() - start
    for delay in np.linspace(0.02, 1.2, 12) * duration:
        timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            try:
                write_gctx(path, frame, compression_level=None)
            finally:
                timer.join()  # on a loaded machine the Ctrl-C may come late:
                time.sleep(0.2)  # it lands here, inside the try, at the latest
        except KeyboardInterrupt:
            print("interrupted")
        assert load_gctx(path, ["g0"]).X.shape == (2000, 1)
        assert not [n for n in os.listdir(sys.argv[1]) if n.endswith(".partial")]
    print("done")
    """
)


@pytest.mark.slow
def test_ctrl_c_while_writing_a_gctx_is_not_a_crash(tmp_path):
    process = subprocess.run(
        [sys.executable, "-c", CTRL_C_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert process.returncode == 0, (process.returncode, process.stderr[-3000:])
    assert process.stdout.splitlines()[-1] == "done", process.stderr[-3000:]
    assert "h5py" not in process.stderr, process.stderr[-3000:]


# A file size limit of 64 kB in a fresh process: every writer must raise an
# OSError naming its file and saying why, leave the previous file intact and
# no temporary file, and the process must end normally (HDF5 crashed it with
# SIGSEGV at exit; torch.jit.save aborted it).
FULL_DISK_SCRIPT = textwrap.dedent(
    """
    import os, resource, sys, warnings
    import numpy as np, pandas as pd
    from sktaaf import TAAFRegressor
    from sktaaf.datasets import write_gct, write_gctx
    from sktaaf.export import to_onnx, to_torchscript

    folder = sys.argv[1]
    warnings.simplefilter("ignore")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 64)).astype(np.float32)
    model = TAAFRegressor(hidden_layer_sizes=(256,), max_epochs=1).fit(X, X)
    frame = pd.DataFrame(rng.normal(size=(200, 100)),
                         index=[f"s{i}" for i in range(200)],
                         columns=[f"g{i}" for i in range(100)])
    writers = {
        "gctx": lambda path: write_gctx(path, frame, compression_level=None),
        "gct": lambda path: write_gct(path, frame),
        "gct.gz": lambda path: write_gct(path, frame),
        "model": model.save,
        "torchscript": lambda path: to_torchscript(model, path),
        "onnx": lambda path: to_onnx(model, path, dynamo=False),
    }
    for kind in writers:
        with open(os.path.join(folder, f"out.{kind}"), "wb") as file:
            file.write(b"previous")
    resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))
    for kind, write in writers.items():
        if kind == "onnx":
            try:
                import onnx  # noqa: F401
            except ImportError:
                print("onnx: skipped")
                continue
        try:
            write(os.path.join(folder, f"out.{kind}"))
            print(f"{kind}: no error")
        except OSError as exc:
            print(f"{kind}: {type(exc).__name__}: {exc}")
    """
)


@pytest.mark.slow
def test_a_full_disk_is_an_os_error_not_a_crash(tmp_path):
    pytest.importorskip("resource")
    process = subprocess.run(
        [sys.executable, "-c", FULL_DISK_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert process.returncode == 0, (process.returncode, process.stderr[-3000:])
    lines = dict(line.split(": ", 1) for line in process.stdout.splitlines())
    for kind in WRITERS:
        if lines[kind] == "skipped":
            continue
        assert lines[kind].startswith("OSError: "), (kind, lines[kind])
        assert f"out.{kind}'" in lines[kind], lines[kind]
        assert "disk full or file size limit" in lines[kind], lines[kind]
        assert (tmp_path / f"out.{kind}").read_bytes() == b"previous"
    assert _leftovers(tmp_path) == []
    assert "Traceback" not in process.stderr, process.stderr[-3000:]


def test_the_files_written_read_back(tmp_path, model):
    """The new writing path (through Python file objects) writes good files."""
    write_gctx(tmp_path / "a.gctx", _frame())
    write_gct(tmp_path / "a.gct.gz", _frame())
    for data in (
        load_gctx(tmp_path / "a.gctx", ["g1"]),
        load_gct(tmp_path / "a.gct.gz", ["g1"]),
    ):
        np.testing.assert_array_equal(data.y, _frame().to_numpy()[:, 1:])
    model.save(tmp_path / "m.pt")
    X = make_data(n_samples=5, n_features=4)[0]
    np.testing.assert_array_equal(
        TAAFRegressor.load(tmp_path / "m.pt").predict(X), model.predict(X)
    )
