"""GCT and GCTX files: damaged and unusual files give clear errors."""

import warnings

import numpy as np
import pytest

from sktaaf.datasets import load_gct, load_gctx, open_gctx

pytest.importorskip("pandas")

GCT_12 = """#1.2
3\t4
Name\tDescription\tS1\tS2\tS3\tS4
5720\tPSME1\t1\t2\t3\t4
466\tATF1\t5\t\t7\t8
6009\tRHEB\t9\t10\t11\t12.5
"""


def write(tmp_path, text, name="x.gct"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------- ragged rows
@pytest.mark.parametrize(
    "line, found",
    [
        ("466\tATF1\t5\t\t7", 5),  # a value missing: was NaN
        ("466\tATF1\t5\t\t\t7\t8", 7),  # a stray tab: shifted the row
        ("466\tATF1 5\t\t7\t8", 5),  # a space instead of a tab
    ],
)
def test_gct_ragged_rows_name_the_line_and_the_fields(tmp_path, line, found):
    path = write(tmp_path, GCT_12.replace("466\tATF1\t5\t\t7\t8", line))
    message = (
        rf"Line 5 of the GCT file '.*x\.gct' has {found} tab-separated fields but "
        r"6 were expected \(1 id \+ 1 row-metadata \+ 4 sample columns"
    )
    with pytest.raises(ValueError, match=message):
        load_gct(path, ["5720"])


def test_gct_blank_and_extra_lines(tmp_path):
    trailing = write(tmp_path, GCT_12 + "\n\n", "trailing.gct")
    assert load_gct(trailing, ["5720"]).y.shape == (4, 2)
    inside = write(tmp_path, GCT_12.replace("466", "\n466"), "inside.gct")
    with pytest.raises(ValueError, match="Line 5 .* has 1 tab-separated fields"):
        load_gct(inside, ["5720"])
    extra = write(tmp_path, GCT_12 + "1\tX\t1\t2\t3\t4\n", "extra.gct")
    with pytest.raises(ValueError, match="more data rows than the 3 genes .*line 7"):
        load_gct(extra, ["5720"])


def test_gct_header_and_column_metadata_lines_are_checked(tmp_path):
    text = (
        "#1.3\n2\t2\t1\t1\nid\tsym\tS1\tS2\ncell_id\tna\tA375\n"
        "g1\ta\t1\t2\ng2\tb\t3\t4\n"
    )
    with pytest.raises(ValueError, match="Line 4 .* has 3 tab-separated fields"):
        load_gct(write(tmp_path, text), ["g1"])


# ------------------------------------------------------------ float32 range
@pytest.mark.parametrize("value", ["1e39", "-3.5e38"])
def test_gct_values_beyond_float32_are_an_error(tmp_path, value):
    path = write(tmp_path, GCT_12.replace("\t11\t", f"\t{value}\t"))
    message = (
        r"x\.gct' holds 1 finite values beyond the range of float32 .* at line 6 "
        r"\(row id '6009', column id 'S3'\)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the way either
        with pytest.raises(ValueError, match=message):
            load_gct(path, ["5720"])
    data = load_gct(path, ["5720"], dtype=np.float64)
    assert data.y[2, 1] == float(value)


def test_gct_float32_max_itself_loads(tmp_path):
    largest = repr(float(np.finfo(np.float32).max))
    path = write(tmp_path, GCT_12.replace("\t11\t", f"\t{largest}\t"))
    assert load_gct(path, ["5720"]).y[2, 1] == np.finfo(np.float32).max


def write_gctx(path, matrix, genes, samples):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as file:
        file.create_dataset("0/DATA/0/matrix", data=matrix)
        file.create_dataset("0/META/ROW/id", data=np.array(genes, dtype="S"))
        file.create_dataset("0/META/COL/id", data=np.array(samples, dtype="S"))
    return path


def test_gctx_values_beyond_float32_are_an_error(tmp_path):
    matrix = np.arange(6, dtype=np.float64).reshape(2, 3)
    matrix[1, 2] = -1e39
    path = write_gctx(tmp_path / "big.gctx", matrix, ["g1", "g2", "g3"], ["s1", "s2"])
    message = (
        r"big\.gctx' holds 1 finite values beyond the range of float32 .*"
        r"row id 'g3', column id 's2'"
    )
    with pytest.raises(ValueError, match=message):
        load_gctx(path, ["g1"])
    with pytest.raises(ValueError, match=message):
        load_gctx(path, ["g1"], sample_ids=["s2"])
    assert load_gctx(path, ["g1"], dtype=None).y[1, 1] == -1e39
    assert load_gctx(path, ["g1"], sample_ids=["s1"]).X.tolist() == [[0.0]]


# ----------------------------------------------------------------- quoting
def test_gct_fields_starting_with_a_quote_are_text(tmp_path):
    text = (
        "#1.3\n2\t2\t1\t1\n"
        'id\tpr_gene_title\t"S1\tS2"\n'
        'cell_id\tna\t"A375\tPC3\n'
        '"5720\t"proteasome, "activator"\t1\t2\n'
        '466\t"ATF1\t3\t4\n'
    )
    data = load_gct(write(tmp_path, text), ['"5720'])
    assert list(data.landmark_ids) == ['"5720']
    assert list(data.target_ids) == ["466"]
    assert list(data.sample_ids) == ['"S1', 'S2"']
    np.testing.assert_array_equal(data.X.ravel(), [1, 2])
    np.testing.assert_array_equal(data.y.ravel(), [3, 4])
    titles = data.row_metadata["pr_gene_title"].tolist()
    assert titles == ['"proteasome, "activator"', '"ATF1']
    assert data.col_metadata["cell_id"].tolist() == ['"A375', "PC3"]


def test_gct_quoted_number_is_not_a_number(tmp_path):
    path = write(tmp_path, GCT_12.replace("\t11\t", '\t"11"\t'))
    with pytest.raises(ValueError, match="Line 6 .*'\"11\"' for sample 'S3'"):
        load_gct(path, ["5720"])


# ---------------------------------------------------------- GCTX: strings
@pytest.mark.parametrize("dtype", ["S3", "O"])
def test_gctx_with_strings_in_its_matrix(tmp_path, dtype):
    h5py = pytest.importorskip("h5py")
    matrix = np.array([["1", "2"], ["3", "x"]], dtype=object)
    matrix = matrix.astype(h5py.string_dtype() if dtype == "O" else dtype)
    path = write_gctx(tmp_path / "text.gctx", matrix, ["g1", "g2"], ["s1", "s2"])
    message = r"text\.gctx' holds .* values in its /0/DATA/0/matrix dataset"
    with pytest.raises(ValueError, match=message):
        load_gctx(path, ["g1"])
    with pytest.raises(ValueError, match=message):
        open_gctx(path, ["g1"])


# ---------------------------------------------------- closed open_gctx file
def test_closed_open_gctx_file_is_a_clear_error(tmp_path):
    from sktaaf import TAAFRegressor

    matrix = np.arange(24, dtype=np.float32).reshape(6, 4)
    path = write_gctx(
        tmp_path / "open.gctx", matrix, ["g1", "g2", "g3", "g4"], list("abcdef")
    )
    data = open_gctx(path, ["g2", "g4"])
    np.testing.assert_array_equal(data.X[0:2], matrix[:2][:, [1, 3]])
    data.file.close()
    message = r"The file '.*open\.gctx' that this ColumnRows view reads is closed"
    with pytest.raises(ValueError, match=message):
        data.X[0:2]
    with pytest.raises(ValueError, match=message):
        _ = data.X.shape
    with pytest.raises(ValueError, match=message):
        TAAFRegressor(hidden_layer_sizes=(4,), max_epochs=1).fit(data.X, data.y)
    assert "closed file" in repr(data.X)


@pytest.mark.parametrize(
    "change",
    ["no final newline", "CRLF", "one sample, empty value", "no data rows"],
)
def test_gct_line_endings_and_edge_shapes(tmp_path, change):
    text = GCT_12
    if change == "no final newline":
        text = text.rstrip("\n")
    elif change == "CRLF":
        text = text.replace("\n", "\r\n")
    elif change == "one sample, empty value":
        text = "#1.2\n2\t1\nName\tDescription\tS1\n5720\tna\t\n466\tna\t2\n"
    else:
        text = "#1.3\n0\t2\t1\t0\nid\tsym\tS1\tS2\n"
    path = tmp_path / "x.gct"
    path.write_bytes(text.encode())
    if change == "no data rows":
        with pytest.raises(ValueError, match="1 of the 1 landmark ids are not"):
            load_gct(path, ["5720"])
        return
    data = load_gct(path, ["5720"])
    if change == "one sample, empty value":
        assert np.isnan(data.X[0, 0]) and data.y.tolist() == [[2.0]]
    else:
        np.testing.assert_array_equal(data.y[:, 1], [9, 10, 11, 12.5])
        assert list(data.target_ids) == ["466", "6009"]
        assert list(data.sample_ids) == ["S1", "S2", "S3", "S4"]
