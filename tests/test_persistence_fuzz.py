"""Fuzzing of model files: truncated, random, bit-flipped and damaged files
given to load, and the columns a loaded model checks (see ``_fuzzing.py``
for the property and the strategies)."""

from __future__ import annotations

import io
import json
import struct
import zipfile

import pytest
import torch
from _fuzzing import NETWORKS, attempt, clean_data, fuzz, pd
from conftest import TINY
from hypothesis import event, given
from hypothesis import strategies as st

from sktaaf import TAAFRegressor
from sktaaf._engine._state import digest

pytestmark = [
    # Expected along the way: feature-name and data-conversion warnings, the
    # divergence warning, numpy's overflow and complex-cast warnings.
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]


# =============================================================== persistence
@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A saved TAAFRegressor, its bytes, and the span of its pickled payload."""
    X, y = clean_data()
    path = tmp_path_factory.mktemp("model") / "model.pt"
    TAAFRegressor(**TINY).fit(X, y).save(path)
    raw = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("data.pkl"))
    name_length, extra_length = struct.unpack_from("<HH", raw, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    return path, raw, (start, start + info.compress_size)


_LOAD_ERRORS = (ValueError, TypeError, FileNotFoundError)


def _check_loaded(result):
    X, _ = clean_data()
    assert result.predict(X).shape == (len(X), 2)


@fuzz(max_examples=60)
@given(data=st.data())
def test_load_truncated_or_random_model_file(model_file, scratch, data):
    _, raw, _ = model_file
    damage = data.draw(st.sampled_from(["truncated", "random", "empty"]))
    event(f"model file: {damage}")
    if damage == "truncated":
        content = raw[: data.draw(st.integers(0, len(raw) - 1), "length")]
    elif damage == "random":
        content = data.draw(st.binary(max_size=500), "bytes")
    else:
        content = b""
    path = scratch / "damaged.pt"
    path.write_bytes(content)
    ok, _ = attempt(TAAFRegressor.load, path, allowed=_LOAD_ERRORS)
    assert not ok


@fuzz(max_examples=80)
@given(data=st.data())
def test_load_bit_flipped_model_file(model_file, scratch, data):
    """Bit flips anywhere, half of them in the pickled payload (key names and
    JSON metadata), a small part of the file where damage is structural."""
    _, raw, (start, end) = model_file
    content = bytearray(raw)
    anywhere, in_payload = st.integers(0, len(raw) - 1), st.integers(start, end - 1)
    for _ in range(data.draw(st.integers(1, 3), "n_flips")):
        position = data.draw(st.one_of(in_payload, anywhere), "at")
        event(f"flip in the {'payload' if start <= position < end else 'tensors'}")
        content[position] ^= 1 << data.draw(st.integers(0, 7), "bit")
    path = scratch / "flipped.pt"
    path.write_bytes(bytes(content))
    ok, loaded = attempt(TAAFRegressor.load, path, allowed=_LOAD_ERRORS)
    if ok:
        _check_loaded(loaded)


@fuzz(max_examples=25)
@given(
    payload=st.one_of(
        st.integers(),
        st.text(),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
        st.builds(lambda text: {"metadata": text}, st.text(max_size=30)),
        st.builds(
            lambda entries: {"metadata": json.dumps(entries)},
            st.dictionaries(st.sampled_from(["format", "class"]), st.text(max_size=8)),
        ),
    )
)
def test_load_torch_archives_that_are_not_models(scratch, payload):
    path = scratch / "other.pt"
    torch.save(payload, path)
    ok, _ = attempt(TAAFRegressor.load, path, allowed=_LOAD_ERRORS)
    assert not ok


@pytest.mark.parametrize("Estimator", NETWORKS)
def test_loaded_model_rejects_reordered_columns(tmp_path, Estimator):
    X, y = clean_data()
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    Estimator(**TINY).fit(frame, y).save(tmp_path / "model.pt")
    loaded = Estimator.load(tmp_path / "model.pt")
    with pytest.raises(ValueError, match="(?i)feature names"):
        loaded.predict(frame[["b", "a", "c", "d"]])
    with pytest.raises(ValueError, match="(?i)feature names"):
        loaded.predict(frame[["a", "b", "c"]])
    with pytest.raises(TypeError, match="holds a"):
        [other for other in NETWORKS if other is not Estimator][0].load(
            tmp_path / "model.pt"
        )


# ================================================================ regressions
# Bugs of model loading and saving that this fuzzing found, since fixed;
# deterministic cases.
def _flip_key(raw: bytes, key: bytes) -> bytes:
    """``raw`` with the first letter of the JSON key ``key`` upper-cased: one
    bit flipped in the metadata."""
    position = raw.index(b'"' + key + b'"') + 1
    return raw[:position] + bytes([raw[position] ^ 0x20]) + raw[position + 1 :]


def _rewrite(raw: bytes, change) -> bytes:
    """``raw`` re-saved with ``change`` applied to its payload and metadata."""
    payload = torch.load(io.BytesIO(raw), weights_only=True)
    metadata = json.loads(payload["metadata"])
    change(payload, metadata)
    payload["metadata"] = json.dumps(metadata)
    # A valid checksum: what is tested is the check of the structure, not of
    # the checksum (see test_persistence_format.py for damage).
    payload.pop("checksum", None)
    payload["checksum"] = digest(payload)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


DAMAGED_STRUCTURE = {
    "bit flip in key 'fitted'": lambda raw: _flip_key(raw, b"fitted"),
    "bit flip in key 'params'": lambda raw: _flip_key(raw, b"params"),
    "no weights": lambda raw: _rewrite(raw, lambda p, m: p.pop("module")),
    "no format_version": lambda raw: _rewrite(
        raw, lambda p, m: m.pop("format_version")
    ),
    "device_ not a str": lambda raw: _rewrite(
        raw, lambda p, m: m["fitted"].update(device_=0)
    ),
    "unknown torch function": lambda raw: _rewrite(
        raw,
        lambda p, m: m["params"].update(activation={"__reference__": "torch:nope"}),
    ),
    "generator state of the wrong size": lambda raw: _rewrite(
        raw, lambda p, m: p.update(generator_state=torch.zeros(3, dtype=torch.uint8))
    ),
}


@pytest.mark.parametrize("damage", DAMAGED_STRUCTURE)
def test_load_model_file_with_damaged_structure(model_file, tmp_path, damage):
    _, raw, _ = model_file
    path = tmp_path / "damaged.pt"
    path.write_bytes(DAMAGED_STRUCTURE[damage](raw))
    with pytest.raises(ValueError):
        TAAFRegressor.load(path)


def test_save_into_a_missing_folder(tmp_path):
    X, y = clean_data()
    estimator = TAAFRegressor(**TINY).fit(X, y)
    with pytest.raises(FileNotFoundError):
        estimator.save(tmp_path / "missing" / "model.pt")
