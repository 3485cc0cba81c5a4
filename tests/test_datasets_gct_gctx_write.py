"""write_gct and write_gctx: the format's layout, and the round trip."""

import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sktaaf.datasets import load_gct, load_gctx, open_gctx, write_gct, write_gctx
from sktaaf.datasets._metadata import METADATA_NULLS

pd = pytest.importorskip("pandas")
h5py = pytest.importorskip("h5py")


@pytest.fixture
def profiles():
    """3 samples x 4 genes, with gene and sample metadata of several types."""
    rng = np.random.RandomState(0)
    values = rng.normal(size=(3, 4)).astype(np.float32)
    values[1, 2] = np.nan
    genes = ["5720", "466", "6009", "10058"]
    samples = ["CPC001_A375_6H:BRD-1", "CPC001_A375_6H:BRD-2", "CPC002_PC3_24H:ß"]
    frame = pd.DataFrame(values, index=samples, columns=genes)
    row_metadata = pd.DataFrame(
        {
            "pr_gene_symbol": ["PSME1", "ATF1", "RHEB", None],
            "pr_is_lmark": [1, 0, 1, 0],
            "pr_score": [0.5, np.nan, 1.25, 2.0],
        },
        index=genes,
    )
    col_metadata = pd.DataFrame(
        {
            "cell_id": ["A375", "A375", "PC3"],
            "pert_dose": [10, 5, 0],
            "is_control": [False, False, True],
        },
        index=samples,
    )
    return frame, row_metadata, col_metadata


def check_round_trip(data, frame, row_metadata, col_metadata):
    genes = list(frame.columns)
    assert list(data.landmark_ids) == ["5720", "6009"]  # from pr_is_lmark
    assert list(data.target_ids) == ["466", "10058"]
    assert list(data.sample_ids) == list(frame.index)
    expected = frame.to_numpy()
    np.testing.assert_array_equal(data.X, expected[:, [0, 2]])
    np.testing.assert_array_equal(data.y, expected[:, [1, 3]])
    assert data.X.dtype == np.float32
    rows = data.row_metadata
    assert rows.index.name == "rid" and list(rows.index) == genes
    assert rows["pr_gene_symbol"].tolist()[:3] == ["PSME1", "ATF1", "RHEB"]
    assert pd.isna(rows["pr_gene_symbol"].iloc[3])
    assert rows["pr_is_lmark"].tolist() == [1, 0, 1, 0]
    assert rows["pr_is_lmark"].dtype.kind == "i"
    np.testing.assert_array_equal(rows["pr_score"], [0.5, np.nan, 1.25, 2.0])
    cols = data.col_metadata
    assert cols.index.name == "cid" and list(cols.index) == list(frame.index)
    assert cols["cell_id"].tolist() == ["A375", "A375", "PC3"]
    assert cols["pert_dose"].tolist() == [10, 5, 0]
    assert cols["is_control"].tolist() == [0, 0, 1]  # booleans as 0/1


def test_gctx_round_trip(tmp_path, profiles):
    frame, row_metadata, col_metadata = profiles
    path = write_gctx(tmp_path / "out.gctx", frame, row_metadata, col_metadata)
    check_round_trip(load_gctx(path), *profiles)
    data = open_gctx(path)
    with data.file:
        np.testing.assert_array_equal(data.y[0:3], frame.to_numpy()[:, [1, 3]])
        assert data.row_metadata["pr_gene_symbol"].iloc[0] == "PSME1"


@pytest.mark.parametrize("name", ["out.gct", "out.gct.gz"])
def test_gct_round_trip(tmp_path, profiles, name):
    frame, row_metadata, col_metadata = profiles
    path = write_gct(tmp_path / name, frame, row_metadata, col_metadata)
    check_round_trip(load_gct(path), *profiles)


def test_gctx_layout_follows_the_format(tmp_path, profiles):
    frame, row_metadata, col_metadata = profiles
    path = write_gctx(tmp_path / "out.gctx", frame, row_metadata, col_metadata)
    with h5py.File(path, "r") as file:
        assert file.attrs["version"] == b"GCTX1.0"
        assert isinstance(file.attrs["version"], np.bytes_)
        matrix = file["/0/DATA/0/matrix"]
        # cmapPy writes data_df.transpose(): (n_cols, n_rows) = samples x genes.
        assert matrix.shape == (3, 4) and matrix.dtype == np.float32
        assert matrix.chunks == (3, 4)
        np.testing.assert_array_equal(matrix[()], frame.to_numpy())
        row_ids = file["/0/META/ROW/id"]
        assert row_ids.dtype.kind == "S" and row_ids.compression == "gzip"
        assert row_ids[()].tolist() == [b"5720", b"466", b"6009", b"10058"]
        col_ids = file["/0/META/COL/id"][()].tolist()
        assert col_ids == [s.encode() for s in frame.index]  # UTF-8 bytes
        assert sorted(file["/0/META/ROW"]) == [
            "id",
            "pr_gene_symbol",
            "pr_is_lmark",
            "pr_score",
        ]
        symbols = file["/0/META/ROW/pr_gene_symbol"][()].tolist()
        assert symbols == [b"PSME1", b"ATF1", b"RHEB", b"-666"]
        assert file["/0/META/ROW/pr_is_lmark"].dtype.kind == "i"
        assert file["/0/META/ROW/pr_score"][()].tolist() == [0.5, -666, 1.25, 2]
        assert file["/0/META/COL/is_control"][()].tolist() == [0, 0, 1]


def test_gct_layout_follows_the_format(tmp_path, profiles):
    frame, row_metadata, col_metadata = profiles
    path = write_gct(tmp_path / "out.gct", frame, row_metadata, col_metadata)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#1.3"
    assert lines[1] == "4\t3\t3\t3"
    assert lines[2].split("\t") == [
        "id",
        "pr_gene_symbol",
        "pr_is_lmark",
        "pr_score",
        *frame.index,
    ]
    assert lines[3].split("\t") == ["cell_id", "na", "na", "na", "A375", "A375", "PC3"]
    assert lines[4].split("\t")[4:] == ["10", "5", "0"]
    fields = lines[6].split("\t")
    assert fields[:4] == ["5720", "PSME1", "1", "0.5"]
    assert [np.float32(value) for value in fields[4:]] == frame["5720"].tolist()
    assert lines[7].split("\t")[:4] == ["466", "ATF1", "0", "-666"]
    assert lines[8].split("\t")[5] == "NaN"
    assert len(lines) == 3 + 3 + 4


def test_writers_without_metadata(tmp_path):
    frame = pd.DataFrame(np.eye(2), index=["s1", "s2"], columns=["g1", "g2"])
    for write, load, name in (
        (write_gct, load_gct, "a.gct"),
        (write_gctx, load_gctx, "a.gctx"),
    ):
        path = write(tmp_path / name, frame)
        data = load(path, ["g2"])
        np.testing.assert_array_equal(data.X, [[0], [1]])
        assert data.row_metadata.shape == (2, 0)
        assert data.col_metadata.shape == (2, 0)
        with pytest.raises(ValueError, match="no pr_is_lmark or pr_is_lm row metadata"):
            load(path)


def test_writers_reject_what_the_format_cannot_hold(tmp_path, profiles):
    frame, row_metadata, col_metadata = profiles
    with pytest.raises(TypeError, match="DataFrame of samples x genes"):
        write_gctx(tmp_path / "a.gctx", frame.to_numpy())
    with pytest.raises(ValueError, match="no row for 1 of the 4 gene ids"):
        write_gctx(tmp_path / "a.gctx", frame, row_metadata.iloc[:3])
    with pytest.raises(ValueError, match="may not hold '/'"):
        write_gctx(tmp_path / "a.gctx", frame, row_metadata.add_suffix("/x"))
    with pytest.raises(ValueError, match="gene ids \\(columns\\) must be unique"):
        write_gct(tmp_path / "a.gct", frame.set_axis(["a", "a", "b", "c"], axis=1))
    with pytest.raises(ValueError, match="'A\\\\t375', with a tab"):
        write_gct(
            tmp_path / "a.gct", frame, None, col_metadata.replace("A375", "A\t375")
        )
    big = frame.astype(np.float64)
    big.iloc[0, 1] = 1e39
    with pytest.raises(ValueError, match="data_frame holds 1 finite values beyond"):
        write_gctx(tmp_path / "a.gctx", big)
    assert not list(tmp_path.iterdir())  # no partial file left behind
    write_gctx(tmp_path / "a.gctx", big, dtype=np.float64)
    assert load_gctx(tmp_path / "a.gctx", ["5720"], dtype=None).y[0, 0] == 1e39


def test_cmappy_reads_our_files(tmp_path, profiles, monkeypatch):
    """cmapPy (if importable) parses both files to the same data and metadata."""
    parse_gct = pytest.importorskip("cmapPy.pandasGEXpress.parse_gct")
    parse_gctx = pytest.importorskip("cmapPy.pandasGEXpress.parse_gctx")
    to_numeric = pd.to_numeric

    def to_numeric_ignore(values, errors="raise", **kwargs):
        # cmapPy 4.0.1 passes errors="ignore", which pandas 3 removed.
        if errors != "ignore":
            return to_numeric(values, errors=errors, **kwargs)
        try:
            return to_numeric(values, **kwargs)
        except (ValueError, TypeError):
            return values

    monkeypatch.setattr(pd, "to_numeric", to_numeric_ignore)
    frame, row_metadata, col_metadata = profiles
    # cmapPy decodes ids and text as ASCII (numpy's astype(str)).
    ascii_ids = {"CPC002_PC3_24H:ß": "CPC002_PC3_24H:ss"}
    frame, col_metadata = frame.rename(ascii_ids), col_metadata.rename(ascii_ids)
    for write, parse, name in (
        (write_gctx, parse_gctx, "c.gctx"),
        (write_gct, parse_gct, "c.gct"),
    ):
        path = write(tmp_path / name, frame, row_metadata, col_metadata)
        gctoo = parse.parse(str(path))
        np.testing.assert_array_equal(gctoo.data_df.T.to_numpy(), frame.to_numpy())
        assert list(gctoo.data_df.index) == list(frame.columns)
        assert list(gctoo.data_df.columns) == list(frame.index)
        symbols = gctoo.row_metadata_df["pr_gene_symbol"].tolist()
        assert symbols[:3] == ["PSME1", "ATF1", "RHEB"] and pd.isna(symbols[3])
        assert gctoo.col_metadata_df["cell_id"].tolist() == ["A375", "A375", "PC3"]


# ---------------------------------------------------------------- fuzzing
_IDS = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\r\n\x00"),
    max_size=6,
)
_FLOAT32 = st.floats(width=32, allow_nan=True, allow_infinity=True)


@st.composite
def profile_frames(draw):
    n_samples, n_genes = draw(st.integers(0, 4)), draw(st.integers(1, 5))
    samples = draw(st.lists(_IDS, min_size=n_samples, max_size=n_samples, unique=True))
    genes = draw(st.lists(_IDS, min_size=n_genes, max_size=n_genes, unique=True))
    values = draw(
        st.lists(_FLOAT32, min_size=n_samples * n_genes, max_size=n_samples * n_genes)
    )
    values = np.array(values, dtype=np.float32).reshape(n_samples, n_genes)
    symbols = draw(
        st.lists(
            st.from_regex(r"[A-Z][A-Z0-9]{0,5}", fullmatch=True).filter(
                lambda symbol: symbol not in METADATA_NULLS  # "NA", "NULL"
            ),
            min_size=n_genes,
            max_size=n_genes,
        )
    )
    frame = pd.DataFrame(
        values,
        index=pd.Index(samples, dtype=object),
        columns=pd.Index(genes, dtype=object),
    )
    row_metadata = pd.DataFrame({"pr_gene_symbol": symbols}, index=frame.columns)
    return frame, row_metadata


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(contents=profile_frames(), form=st.sampled_from(["gct", "gct.gz", "gctx"]))
def test_write_then_load_is_exact(tmp_path, contents, form):
    """Any ids without tabs or line breaks, any float32 values (NaN, infinities,
    subnormals, the extremes) come back exactly."""
    frame, row_metadata = contents
    write = write_gctx if form == "gctx" else write_gct
    load = load_gctx if form == "gctx" else load_gct
    path = write(tmp_path / f"fuzz.{form}", frame, row_metadata)
    data = load(path, [frame.columns[0]])
    expected = frame.to_numpy()
    np.testing.assert_array_equal(data.X, expected[:, :1])
    np.testing.assert_array_equal(data.y, expected[:, 1:])
    assert list(data.sample_ids) == list(frame.index)
    assert list(data.target_ids) == list(frame.columns[1:])
    assert list(data.row_metadata.index) == list(frame.columns)
    assert (
        data.row_metadata["pr_gene_symbol"].tolist()
        == row_metadata["pr_gene_symbol"].tolist()
    )


# ------------------------------------------- what the readers return (#21)
FORMS = [(write_gctx, load_gctx, "a.gctx"), (write_gct, load_gct, "a.gct")]
_TINY = pd.DataFrame(np.eye(3, dtype=np.float32), index=["s0", "s1", "s2"])
_TINY.columns = ["g0", "g1", "g2"]


def _genes(values, field="x"):
    return pd.DataFrame({field: values}, index=_TINY.columns)


@pytest.mark.parametrize("write, load, name", FORMS)
@pytest.mark.parametrize(
    "values, shown, becomes",
    [
        (["na", "b", "c"], "'na'", "missing"),
        (["NA", "b", "c"], "'NA'", "missing"),
        (["None", "b", "c"], "'None'", "missing"),
        (["", "b", "c"], "''", "missing"),
        (["NaN", "b", "c"], "'NaN'", "missing"),
        (["-666", "b", "c"], "'-666'", "missing"),
        (["001", "002", "3"], "'001'", "the number 1"),
        (["1e5", "2", "3"], "'1e5'", "the number 100000.0"),
        ([-666, 1, 2], "-666", "missing"),
        (["a", 1, 2], "1", "the text '1'"),
    ],
)
def test_values_the_readers_change_are_written_with_a_warning(
    tmp_path, write, load, name, values, shown, becomes
):
    from sktaaf.exceptions import RoundTripWarning

    with pytest.warns(
        RoundTripWarning, match=f"Field 'x' of row_metadata holds {shown}"
    ):
        path = write(tmp_path / name, _TINY, _genes(values))
    with pytest.warns(RoundTripWarning, match=f"read back as {becomes}"):
        write(tmp_path / name, _TINY, _genes(values))
    assert load(path, ["g0"]).row_metadata["x"].tolist() != values


@pytest.mark.parametrize("write, load, name", FORMS)
@pytest.mark.parametrize(
    "values, message",
    [
        # numpy >= 2 shows np.complex128(1+2j), numpy 1 (1+2j)
        ([1 + 2j, 1, 2], r"holds (np.complex128)?\(1\+2j\)"),
        (
            np.array(["2020-01-01"] * 3, dtype="datetime64[ns]"),
            r"holds Timestamp\('2020-01-01 00:00:00'\)",
        ),
        (["a\x00b", "b", "c"], r"holds 'a\\x00b', with a NUL character"),
        ([b"x", "y", "z"], r"holds b'x' \(bytes\)"),
        (["a", "\udcff", "c"], r"holds '\\udcff', which is not valid Unicode"),
    ],
)
def test_values_the_readers_damage_are_refused(
    tmp_path, write, load, name, values, message
):
    with pytest.raises(ValueError, match=f"Field 'x' of row_metadata {message}"):
        write(tmp_path / name, _TINY, _genes(values))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("write, load, name", FORMS)
def test_ids_and_field_names_the_files_cannot_hold(tmp_path, write, load, name):
    for field in ("", "a\x00b", "a\udcff") + ((".",) if name.endswith("x") else ()):
        with pytest.raises(
            ValueError, match="row_metadata .*" + re.escape(repr(field))
        ):
            write(tmp_path / name, _TINY, _genes([1, 2, 3], field))
    for ids in (["s0", "s0\x00", "s2"], ["s0", "s\udcff", "s2"]):
        with pytest.raises(ValueError, match="sample ids \\(index\\) holds 's"):
            write(tmp_path / name, _TINY.set_axis(ids, axis=0))
    # Bytes ids are decoded as the loaders decode them, not written as "b'g0'".
    path = write(tmp_path / name, _TINY.set_axis([b"s0", "s1", b"s2"], axis=0))
    assert list(load(path, ["g0"]).sample_ids) == ["s0", "s1", "s2"]
    for values in (_TINY.astype(complex), _TINY.astype("datetime64[ns]")):
        with pytest.raises(TypeError, match="must hold real numbers"):
            write(tmp_path / name, values)


def test_the_loaders_own_metadata_write_without_warnings(tmp_path, profiles):
    frame, row_metadata, col_metadata = profiles
    data = load_gctx(write_gctx(tmp_path / "a.gctx", frame, row_metadata, col_metadata))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for write, name in ((write_gctx, "b.gctx"), (write_gct, "b.gct")):
            write(tmp_path / name, frame, data.row_metadata, data.col_metadata)


def test_an_id_naming_two_samples_is_an_error(tmp_path):
    path = tmp_path / "a.gctx"
    write_gctx(path, _TINY)
    with h5py.File(path, "r+") as file:
        del file["0/META/COL/id"]
        file["0/META/COL/id"] = np.array([b"s0", b"s1", b"s1"])
    with pytest.raises(ValueError, match="'s1' names 2"):
        load_gctx(path, ["g0"], sample_ids=["s1"])
    assert load_gctx(path, ["g0"], sample_ids=["s0"]).X.tolist() == [[1.0]]
    assert list(load_gctx(path, ["g0"]).sample_ids) == ["s0", "s1", "s1"]


def test_gct_float64_values_and_metadata_round_trip_exactly(tmp_path):
    rng = np.random.RandomState(0)
    values = rng.normal(size=(200, 3)) * 10.0 ** rng.randint(-8, 8, size=(200, 3))
    frame = pd.DataFrame(values, columns=["g0", "g1", "g2"])
    frame.index = [f"s{i}" for i in range(200)]
    samples = pd.DataFrame({"dose": values[:, 0]}, index=frame.index)
    path = write_gct(tmp_path / "a.gct", frame, col_metadata=samples)
    data = load_gct(path, ["g0"], dtype=None)
    np.testing.assert_array_equal(data.X[:, 0], values[:, 0])
    np.testing.assert_array_equal(data.y, values[:, 1:])
    np.testing.assert_array_equal(data.col_metadata["dose"], values[:, 0])


@pytest.mark.parametrize("name", ["a.GCT.GZ", "a.gct.Gz", "a.gct.gz"])
def test_gzip_suffixes_in_any_case_are_gzipped_and_read(tmp_path, name):
    path = write_gct(tmp_path / name, _TINY)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(load_gct(path, ["g0"]).X[:, 0], [1, 0, 0])
    # A gzipped file under any name is read by its content.
    (tmp_path / "renamed.gct").write_bytes(path.read_bytes())
    np.testing.assert_array_equal(
        load_gct(tmp_path / "renamed.gct", ["g0"]).y, _TINY.to_numpy()[:, 1:]
    )


@pytest.mark.parametrize(
    "cell, message",
    [
        ("1_000", "not a number in GCT notation"),
        ("\u0661", "not a number in GCT notation"),
        ("1e309", "beyond the range of float64"),
    ],
)
def test_a_bad_gct_value_is_named_with_its_line(tmp_path, cell, message):
    path = tmp_path / "a.gct"
    path.write_text(
        f"#1.2\n2\t2\nName\tDescription\ts1\ts2\ng1\tx\t1\t2\ng2\tx\t{cell}\t3\n"
    )
    for dtype in (np.float32, None):
        with pytest.raises(
            ValueError,
            match=f"Line 5 .* holds '{cell}' for sample 's1', which is {message}",
        ):
            load_gct(path, ["g1"], dtype=dtype)


def test_a_gctx_declaring_a_huge_matrix_is_a_clear_error(tmp_path):
    path = tmp_path / "huge.gctx"
    n = 10**6
    with h5py.File(path, "w") as file:  # 4 TB declared, nothing stored
        file.create_dataset("0/DATA/0/matrix", shape=(n, n), dtype="f4", chunks=(8, 8))
        file["0/META/ROW/id"] = np.char.add(b"g", np.arange(n).astype("S7"))
        file["0/META/COL/id"] = np.char.add(b"s", np.arange(n).astype("S7"))
    with pytest.raises(ValueError, match="declares 1000000 samples x 1000000 genes"):
        load_gctx(path, ["g0"])


_METADATA_VALUES = st.one_of(
    st.none(),
    st.text(max_size=5),  # any character: NUL, surrogates, tabs included
    st.sampled_from(sorted(METADATA_NULLS) + ["001", "1e5", " 1", "inf", "0x1"]),
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    values=st.lists(_METADATA_VALUES, min_size=3, max_size=3),
    form=st.sampled_from(["gct", "gctx"]),
)
def test_metadata_written_without_a_word_read_back_unchanged(tmp_path, values, form):
    """What a writer accepts without refusing or warning, its loader returns
    unchanged (None as missing)."""
    from sktaaf.exceptions import RoundTripWarning

    write = write_gctx if form == "gctx" else write_gct
    load = load_gctx if form == "gctx" else load_gct
    column = pd.Series(values, dtype=object, index=_TINY.columns)
    genes = pd.DataFrame({"x": column})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RoundTripWarning)
        try:
            path = write(tmp_path / f"m.{form}", _TINY, genes)
        except (ValueError, RoundTripWarning):
            return
    back = load(path, ["g0"]).row_metadata["x"].tolist()
    for given_value, read in zip(values, back, strict=True):
        if given_value is None:
            assert pd.isna(read), (values, back)
        else:
            assert isinstance(read, str) == isinstance(given_value, str), (values, back)
            assert read == given_value, (values, back)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    ids=st.lists(
        st.one_of(st.text(max_size=4), st.binary(max_size=3)),
        min_size=3,
        max_size=3,
        unique=True,
    ),
    form=st.sampled_from(["gct", "gctx"]),
)
def test_any_ids_are_refused_or_read_back_unchanged(tmp_path, ids, form):
    """Ids of any characters (NUL, surrogates, tabs) or bytes: refused, or read
    back as given (bytes decoded as UTF-8, as the loaders decode them)."""
    write = write_gctx if form == "gctx" else write_gct
    load = load_gctx if form == "gctx" else load_gct
    frame = _TINY.set_axis(pd.Index(ids, dtype=object), axis=0)
    try:
        path = write(tmp_path / f"i.{form}", frame)
    except ValueError:
        return
    expected = [i.decode() if isinstance(i, bytes) else i for i in ids]
    assert list(load(path, ["g0"]).sample_ids) == expected
