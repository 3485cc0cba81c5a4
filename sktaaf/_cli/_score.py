"""``sktaaf score MODEL TRUTH``: how well a saved model infers the measured
target genes of a profiles file.

The model infers the file's samples from their landmark genes; the inference
is compared with the file's own rows of the model's targets (those it has):
per-gene MAE and Pearson r (:mod:`sktaaf.metrics`), with the genes' symbols,
written to a CSV file (``-o``) and a Markdown table (``--markdown``), and a
summary line on stdout: mean MAE, mean r, genes and samples scored.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from .._utils._atomic import atomic_file
from ..metrics import per_gene_mae, per_gene_pearson
from ._errors import UsageError
from ._fit import frame
from ._genes import genes_file
from ._match import hinting, match_landmarks, match_targets
from ._model import load_model, model_gene_ids
from ._paths import check_output, os_error_message
from ._profiles import landmark_symbols, load_profiles

__all__ = ["run", "scores_table"]


def _check_paths(args) -> list:
    inputs = {
        "the model file": args.model,
        "the profiles file": args.truth,
        "the model's genes file": genes_file(args.model),
    }
    paths = [None, None]
    if args.output is not None:
        paths[0] = check_output(args.output, inputs)
    if args.markdown is not None:
        paths[1] = check_output(args.markdown, inputs, "--markdown")
        if paths[0] is not None and paths[0].resolve() == paths[1].resolve():
            raise UsageError("-o and --markdown name the same file; give two names.")
    return paths


def _measured(args, genes):
    """The truth file's landmarks, and its rows of the model's targets."""
    target_ids = [str(value) for value in genes["target_ids"]]
    with hinting():
        file_ids = match_landmarks(args.truth, genes["landmark_ids"], args.id_field)
        data = load_profiles(args.truth, file_ids, target_ids=None)
    rows = match_targets(args.truth, target_ids, args.id_field)
    present = {str(gene) for gene in data.target_ids}
    scored = [gene for gene in target_ids if rows.get(gene) in present]
    if not scored:
        raise UsageError(
            f"{args.truth!r} has none of the model's {len(target_ids)} target "
            f"genes (e.g. {', '.join(target_ids[:3])}) besides its landmarks, so "
            "there is nothing to score; give a file with measured target genes."
        )
    if len(data.X) < 2:
        raise UsageError(
            f"{args.truth!r} holds {len(data.X)} sample; scoring needs at least 2."
        )
    return data, scored, rows


def scores_table(y_true, y_pred, gene_ids, symbols):
    """Per-gene MAE and Pearson r, one row per gene, as a DataFrame."""
    import pandas as pd

    with warnings.catch_warnings():  # constant genes: r is NaN, said below
        warnings.simplefilter("ignore", RuntimeWarning)
        mae = np.asarray(per_gene_mae(y_true, y_pred), dtype=np.float64)
        r = np.asarray(per_gene_pearson(y_true, y_pred), dtype=np.float64)
    return pd.DataFrame(
        {"pr_gene_symbol": symbols, "mae": mae, "r": r},
        index=pd.Index(gene_ids, dtype=object, name="gene_id"),
    )


def _markdown(table) -> str:
    lines = ["| gene_id | pr_gene_symbol | mae | r |", "|---|---|---:|---:|"]
    for gene, row in table.iterrows():
        symbol = "" if row["pr_gene_symbol"] is None else row["pr_gene_symbol"]
        lines.append(f"| {gene} | {symbol} | {row['mae']:.4f} | {row['r']:.4f} |")
    return "\n".join(lines) + "\n"


def _write(table, csv_path, markdown_path) -> None:
    for path in (csv_path, markdown_path):
        if path is None:
            continue
        try:
            with atomic_file(path) as file:
                if path is csv_path:
                    table.to_csv(file, float_format="%.6g")
                else:
                    file.write(_markdown(table))
        except OSError as exc:
            raise UsageError(os_error_message(exc, path)) from exc


def run(args) -> int:
    csv_path, markdown_path = _check_paths(args)
    estimator, metadata = load_model(args.model, args.device or "auto")
    genes = model_gene_ids(estimator, metadata, args.model)
    data, scored, rows = _measured(args, genes)
    samples = [str(i) for i in range(len(data.X))]
    y_pred = np.asarray(
        estimator.predict(frame(data.X, samples, genes["landmark_ids"]))
    ).reshape(len(samples), -1)
    model_position = {str(gene): i for i, gene in enumerate(genes["target_ids"])}
    file_position = {str(gene): i for i, gene in enumerate(data.target_ids)}
    y_pred = y_pred[:, [model_position[gene] for gene in scored]]
    y_true = data.y[:, [file_position[rows[gene]] for gene in scored]]
    symbols = genes["target_symbols"]
    symbols = (
        landmark_symbols([rows[gene] for gene in scored], data.row_metadata)
        if symbols is None
        else [symbols[model_position[gene]] for gene in scored]
    )
    table = scores_table(y_true, y_pred, scored, symbols)
    _write(table, csv_path, markdown_path)
    constant = int(table["r"].isna().sum())
    note = f" ({constant} constant genes have no r)" if constant else ""
    print(
        f"{args.model}: mean MAE {table['mae'].mean():.4f}, mean r "
        f"{table['r'].mean():.4f} over {len(scored)} genes x {len(samples)} "
        f"samples of {args.truth}{note}"
        + (
            f"; {len(genes['target_ids']) - len(scored)} of the model's targets "
            "are not in the file"
            if len(scored) < len(genes["target_ids"])
            else ""
        )
        + "."
    )
    if csv_path is not None and not args.quiet:
        print(f"Wrote the per-gene scores to {str(csv_path)!r}.", file=sys.stderr)
    return 0
