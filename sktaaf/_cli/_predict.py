"""``sktaaf predict``: infer the target genes of new profiles with a saved
model.

The output's rows are the model's targets (named by id, or by symbol with
``--symbols``) and carry, as row metadata, every field the training file had
for them (kept in the model file), their symbols, ``pr_is_lmark`` 0 and
``pr_is_inferred`` 1, and, for models that know their per-gene validation
scores, ``pr_inference_r``, ``pr_inference_mae`` and the well-inferred flag
(see ``_library``). ``pr_gene_id`` holds Entrez ids only: target ids of
another kind go to ``pr_source_id`` when the rows are named by symbol.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .._persistence._checks import TARGET_METADATA_FIELD
from ._errors import UsageError
from ._fit import frame
from ._genes import genes_file
from ._library import inference_row_metadata
from ._match import hinting, match_landmarks
from ._model import load_model, model_gene_ids
from ._paths import check_output, os_error_message
from ._profiles import gctx_rows, is_gctx, landmark_symbols, load_profiles

__all__ = ["output_rows", "run"]


def _echo(args, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr)


def _check_predict_paths(args) -> Path:
    """The output file, checked before any work (see ``_paths``)."""
    return check_output(
        args.output,
        {
            "the model file": args.model,
            "the profiles file": args.profiles,
            "the model's genes file": genes_file(args.model),
        },
    )


def run(args) -> int:
    output = _check_predict_paths(args)
    estimator, metadata = load_model(args.model, args.device or "auto")
    if args.batch_size is not None:
        estimator.set_params(batch_size=args.batch_size)
    genes = model_gene_ids(estimator, metadata, args.model)
    landmark_ids, target_ids = genes["landmark_ids"], genes["target_ids"]
    streamed = is_gctx(args.profiles) and not _is_gct(output) and args.id_field is None
    with hinting():
        file_ids = match_landmarks(args.profiles, landmark_ids, args.id_field)
        if streamed:
            n_samples, row_metadata = gctx_rows(args.profiles, landmark_ids)
        else:
            data = load_profiles(args.profiles, file_ids, target_ids=[])
            n_samples, row_metadata = len(data.X), data.row_metadata
    _echo(
        args,
        f"Inferring {len(target_ids)} target genes for {n_samples} samples "
        f"from {len(landmark_ids)} landmark genes"
        f"{' (streamed, a chunk at a time)' if streamed else ''}.",
    )
    row_ids, rows = output_rows(
        estimator, metadata, genes, row_metadata, args.symbols, args.r_threshold
    )
    if streamed:
        from ..datasets import predict_gctx

        try:
            predict_gctx(
                estimator,
                args.profiles,
                output,
                landmark_ids=landmark_ids,
                target_ids=row_ids,
                row_metadata=rows,
                chunk_size=args.chunk_size,
                progress=not args.quiet,
            )
        except OSError as exc:
            raise UsageError(os_error_message(exc, output)) from exc
    else:
        _predict_in_memory(estimator, data, landmark_ids, row_ids, rows, output)
    _echo(args, f"Wrote {len(row_ids)} genes x {n_samples} samples to {args.output!r}.")
    return 0


def _is_gct(path: Path) -> bool:
    return path.name.lower().endswith((".gct", ".gct.gz"))


def _is_entrez(ids) -> bool:
    return all(v.isascii() and v.isdigit() and (v == "0" or v[0] != "0") for v in ids)


def output_rows(estimator, metadata, genes, row_metadata, symbols_as_ids, r_threshold):
    """The output's row ids (target ids, or their symbols with
    ``symbols_as_ids``) and its row metadata (see the module docstring)."""
    import pandas as pd

    target_ids = [str(value) for value in genes["target_ids"]]
    symbols = genes["target_symbols"] or [None] * len(target_ids)
    if any(symbol is None for symbol in symbols):
        found = landmark_symbols(target_ids, row_metadata)
        symbols = [
            new if old is None else old for old, new in zip(symbols, found, strict=True)
        ]
    rows = pd.DataFrame(
        metadata.get(TARGET_METADATA_FIELD) or {},
        index=pd.Index(target_ids, dtype=object),
    )
    if "pr_gene_symbol" in rows:
        rows["pr_gene_symbol"] = rows["pr_gene_symbol"].fillna(
            pd.Series(symbols, index=rows.index, dtype=object)
        )
    else:
        rows["pr_gene_symbol"] = pd.Series(symbols, index=rows.index, dtype=object)
    row_ids = target_ids
    if symbols_as_ids:
        unnamed = [gene for gene, s in zip(target_ids, symbols, strict=True) if not s]
        if unnamed:
            raise UsageError(
                f"--symbols: {len(unnamed)} target genes have no known symbol, "
                f"e.g. {unnamed[:5]}; leave --symbols out to name rows by id."
            )
        if len(set(symbols)) < len(symbols):
            raise UsageError("--symbols: some target genes share a symbol.")
        row_ids = list(symbols)
        if "pr_gene_id" not in rows:  # Entrez ids only, as in LINCS files
            if _is_entrez(target_ids):
                rows["pr_gene_id"] = [int(value) for value in target_ids]
            else:
                rows["pr_source_id"] = target_ids
    inference = inference_row_metadata(estimator, r_threshold=r_threshold)
    if inference is not None:
        inference = inference.set_axis([str(v) for v in inference.index], axis=0)
        for field in inference.columns:
            rows[field] = inference[field].reindex(rows.index)
    if "pr_is_lmark" not in rows:
        rows["pr_is_lmark"] = np.zeros(len(rows), dtype=np.int8)
    rows["pr_is_inferred"] = np.ones(len(rows), dtype=np.int8)
    return row_ids, rows.set_axis(pd.Index(row_ids, dtype=object), axis=0)


def _predict_in_memory(estimator, data, landmark_ids, row_ids, rows, output) -> None:
    """Predict the loaded ``data`` at once and write it as GCT or GCTX."""
    samples = np.arange(len(data.X)) if data.sample_ids is None else data.sample_ids
    samples = [str(value) for value in samples]
    y_pred = np.asarray(estimator.predict(frame(data.X, samples, landmark_ids)))
    y_pred = y_pred.reshape(len(samples), -1)
    col_metadata = data.col_metadata
    if col_metadata is not None:
        col_metadata = col_metadata.set_axis(samples, axis=0)
    profiles = frame(y_pred, samples, row_ids)
    from ..datasets import write_gct, write_gctx

    try:
        if _is_gct(output):
            write_gct(output, profiles, rows, col_metadata)
        else:
            write_gctx(output, profiles, rows, col_metadata)
    except OSError as exc:
        raise UsageError(os_error_message(exc, output)) from exc
