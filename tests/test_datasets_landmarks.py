"""The shipped list of the L1000 landmark genes and its id mapping."""

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from sktaaf.datasets import (
    l1000_landmark_ids,
    load_gctx,
    load_l1000_landmarks,
    map_landmark_ids,
    split_landmarks,
    write_gctx,
)

ID_TYPES = ["probe_id", "entrez_id", "symbol"]


def test_load_l1000_landmarks():
    pytest.importorskip("pandas")
    landmarks = load_l1000_landmarks()
    assert landmarks.shape == (978, 3)
    assert list(landmarks.columns) == ID_TYPES
    for name in ID_TYPES:
        assert landmarks[name].is_unique and landmarks[name].notna().all()
    assert landmarks["entrez_id"].str.fullmatch(r"\d+").all()
    assert landmarks["probe_id"].str.endswith("_at").all()
    assert landmarks.iloc[0].tolist() == ["201000_at", "16", "AARS"]
    landmarks.loc[0, "symbol"] = "changed"  # a copy: the next call is intact
    assert load_l1000_landmarks().loc[0, "symbol"] == "AARS"


@pytest.mark.parametrize("id_type", ID_TYPES)
def test_l1000_landmark_ids(id_type):
    ids = l1000_landmark_ids(id_type)
    assert ids.shape == (978,) and ids.dtype == object
    assert len(set(ids)) == 978
    if id_type == "entrez_id":
        np.testing.assert_array_equal(ids, l1000_landmark_ids())
    ids[0] = "changed"
    assert l1000_landmark_ids(id_type)[0] != "changed"


@pytest.mark.parametrize("from_type", ID_TYPES)
@pytest.mark.parametrize("to_type", ID_TYPES)
def test_map_landmark_ids_between_every_kind(from_type, to_type):
    mapped = map_landmark_ids(
        l1000_landmark_ids(from_type)[::-1], from_type=from_type, to_type=to_type
    )
    np.testing.assert_array_equal(mapped, l1000_landmark_ids(to_type)[::-1])


def test_map_landmark_ids_errors():
    assert map_landmark_ids([16], from_type="entrez_id", to_type="symbol")[0] == "AARS"
    with pytest.raises(ValueError, match="1 of the 2 ids are not symbols of L1000"):
        map_landmark_ids(["AARS", "XIST"], from_type="symbol", to_type="entrez_id")
    with pytest.raises(ValueError, match="to_type must be one of"):
        map_landmark_ids(["AARS"], from_type="symbol", to_type="ensembl")
    with pytest.raises(ValueError, match="id_type must be one of"):
        l1000_landmark_ids("gene")


@pytest.mark.parametrize("id_type", ID_TYPES)
def test_files_keyed_by_any_id_split_in_one_call(tmp_path, id_type):
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    landmarks = l1000_landmark_ids(id_type)
    genes = ["XIST", *landmarks[::-1], "ACTB"]  # not in the list's order
    frame = pd.DataFrame(
        rng.normal(size=(4, len(genes))).astype(np.float32),
        index=[f"s{i}" for i in range(4)],
        columns=genes,
    )
    data = split_landmarks(frame, None, l1000_landmark_ids(id_type))
    np.testing.assert_array_equal(data.X, frame[landmarks].to_numpy())
    assert list(data.target_ids) == ["XIST", "ACTB"]
    pytest.importorskip("h5py")
    path = write_gctx(tmp_path / "keyed.gctx", frame)
    from_file = load_gctx(path, l1000_landmark_ids(id_type))
    np.testing.assert_array_equal(from_file.X, data.X)
    np.testing.assert_array_equal(from_file.y, data.y)


def test_the_list_is_package_data():
    path = resources.files("sktaaf.datasets").joinpath("data/l1000_landmark_genes.tsv")
    assert path.is_file()
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    pyproject = Path(__file__).parents[1] / "pyproject.toml"
    package_data = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]
    assert "data/*.tsv" in package_data["package-data"]["sktaaf.datasets"]
