"""A synthetic generator of landmark and target expression profiles."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from .._utils._arrays import gene_names
from .._utils._compat import Interval, StrOptions, validate_params

__all__ = ["make_expression"]

#: The shapes of ``make_expression(response=...)``; ``"mixed"`` draws one of
#: them for each target gene.
RESPONSES = ("tanh", "linear", "relu", "log", "dropout")


def _activations(programs, n_genes, rng, gain_range):
    """Each gene's input ``a_g * w_g . z_i + b_g`` from the programmes."""
    n_programs = programs.shape[1]
    loadings = rng.normal(size=(n_programs, n_genes))
    loadings /= np.linalg.norm(loadings, axis=0)
    gains = rng.uniform(*gain_range, size=n_genes)
    offsets = rng.normal(scale=0.5, size=n_genes)
    return gains * (programs @ loadings) + offsets


def _expression(responses, noise, rng):
    """Gene-specific means and scales, plus measurement noise."""
    n_samples, n_genes = responses.shape
    means = rng.normal(scale=0.5, size=n_genes)
    scales = rng.lognormal(mean=np.log(0.8), sigma=0.3, size=n_genes)
    values = responses + noise * rng.normal(size=(n_samples, n_genes))
    values *= scales
    values += means
    return values.astype(np.float32)


def _softplus(u):
    return np.logaddexp(0.0, u)


def _targets(activations, shapes, noise, rng):
    """Target values: each gene's response shape, mean, scale and noise."""
    n_samples, n_genes = activations.shape
    responses = np.empty_like(activations)
    for name, function in [
        ("tanh", np.tanh),
        ("linear", lambda u: u / 1.5),  # about the spread of the others
        ("relu", lambda u: np.maximum(u, 0.0)),
        ("log", _softplus),
    ]:
        genes = shapes == name
        responses[:, genes] = function(activations[:, genes])
    dropout = shapes == "dropout"
    # Zero-inflated: log-normalised counts whose log-rate follows the
    # programmes, read as exact zeros more often the lower the expression.
    responses[:, dropout] = _softplus(activations[:, dropout])
    values = _expression(responses, noise, rng)
    level = responses[:, dropout]
    scales = rng.lognormal(mean=np.log(0.8), sigma=0.3, size=int(dropout.sum()))
    noisy = np.maximum(level + noise * rng.normal(size=level.shape), 0.0) * scales
    lost = rng.uniform(size=level.shape) < 1.0 / (1.0 + np.exp(3.0 * level - 1.5))
    values[:, dropout] = np.where(lost, 0.0, noisy)
    return values


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_landmarks": [Interval(Integral, 1, None, closed="left")],
        "n_targets": [Interval(Integral, 1, None, closed="left")],
        "n_programs": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "response": [StrOptions({"mixed", *RESPONSES})],
        "as_frame": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_expression(
    n_samples: int = 1000,
    n_landmarks: int = 942,
    n_targets: int = 952,
    *,
    n_programs: int = 16,
    noise: float = 0.3,
    response: str = "mixed",
    as_frame: bool = False,
    random_state: int | np.random.RandomState | None = None,
) -> tuple:
    """Generate synthetic landmark and target gene-expression profiles.

    A latent-programme model with the structure that makes gene-expression
    inference non-trivial: every gene follows a few shared expression
    programmes (so landmarks correlate with each other and with the targets),
    through a response of its own shape, with its own mean and scale.

    The model, for sample ``i`` and gene ``g``:

    1. Programme activities ``z_i ~ N(0, I)``, a vector of ``n_programs``
       values shared by all genes of sample ``i``.
    2. A loading direction ``w_g``, uniform on the unit sphere (a normalised
       Gaussian vector): every gene mixes all programmes in its own way.
    3. An input ``u_ig = a_g * w_g . z_i + b_g`` with gain ``a_g ~ U(0.5,
       1.5)`` for landmarks and ``U(1, 3)`` for targets, and offset ``b_g ~
       N(0, 0.5^2)``, and a response ``h_ig = f_g(u_ig)``. Landmarks respond
       through ``tanh`` (at their low gain, nearly linearly); each target
       through the shape ``response`` names (see below).
    4. The value ``x_ig = m_g + s_g * (h_ig + noise * e_ig)``, with gene mean
       ``m_g ~ N(0, 0.5^2)``, gene scale ``s_g ~ LogNormal(log 0.8, 0.3^2)``
       and measurement noise ``e_ig ~ N(0, 1)``.

    The target response shapes, and the models each favours by construction:

    ``"tanh"``
        ``tanh(u)``: saturating, exactly the form of a TAAF output layer
        (``alpha * tanh(beta * x + gamma) + delta``), so it favours
        :class:`~sktaaf.TAAFRegressor`. It was the only shape before
        ``response`` existed; ``response="tanh"`` gives the same data.
    ``"linear"``
        ``u / 1.5``: linear in the programmes, which the nearly linear
        landmarks carry; favours linear and ridge regression.
    ``"relu"``
        ``max(u, 0)``: a threshold below which the gene is silent; favours
        networks with ReLU units (e.g. ``DGEXRegressor(activation="relu")``,
        :class:`~sklearn.neural_network.MLPRegressor`).
    ``"log"``
        ``log(1 + exp(u))``: log-normalised expression of a gene whose
        log-rate is linear in the programmes (a soft threshold); no model has
        this exact form.
    ``"dropout"``
        Zero-inflated counts: ``s_g * max(log(1 + exp(u)) + noise * e, 0)``,
        read as an exact zero with probability ``1 / (1 + exp(3 h - 1.5))``,
        more often the lower the expression (no gene mean added). Under an
        absolute error it favours predicting the median (zero), as a
        :class:`~sklearn.dummy.DummyRegressor` or a network trained with the
        MAE does; correlations are low for every model.
    ``"mixed"`` (default)
        Each target draws one of the five shapes at random, with equal
        probability, so that no model wins by construction.

    With the default, values lie on the scale of per-gene standardised log
    expression, but spread wider than z-scores (per-gene standard deviations
    from about 0.2 to 3.5, values within about +-15): use
    :class:`sklearn.preprocessing.StandardScaler` for exact z-scores.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of samples (expression profiles).
    n_landmarks : int, default=942
        Number of landmark genes, the columns of ``X``. The default is the
        TAAF-D-GEX reference example's [2]_.
    n_targets : int, default=952
        Number of target genes, the columns of ``y``; the reference's default.
    n_programs : int, default=16
        Number of latent expression programmes. Fewer programmes make the
        samples easier for nearest-neighbour regression in sample space.
    noise : float, default=0.3
        Standard deviation of the measurement noise, relative to each gene's
        scale ``s_g``. It sets the floor of any model's error.
    response : {"mixed", "tanh", "linear", "relu", "log", "dropout"}, \
            default="mixed"
        The shape of the targets' responses to the programmes (see above).
    as_frame : bool, default=False
        Return pandas DataFrames with gene names as columns: ``"LM0001"``,
        ``"LM0002"``, ... for landmarks and ``"TG0001"``, ... for targets (more
        digits beyond 9,999 genes). Requires pandas.
    random_state : int, RandomState instance or None, default=None
        Seeds every draw; an int gives the same data on every call.

    Returns
    -------
    X : ndarray or DataFrame of shape (n_samples, n_landmarks), float32
        Landmark gene expression.
    y : ndarray or DataFrame of shape (n_samples, n_targets), float32
        Target gene expression.

    See Also
    --------
    sktaaf.datasets.load_gctx : Load real profiles from a GCTX file.

    Notes
    -----
    With ``make_expression(n_samples=3000, n_landmarks=200, n_targets=300,
    random_state=0)`` and a held-out fifth, the test mean absolute errors were
    0.300 for ``TAAFRegressor(hidden_layer_sizes=(256, 256), max_epochs=40)``
    (mean per-gene r 0.909), 0.368 for linear regression (r 0.858) and 0.727
    for KNN-GE (r 0.509). With ``response="tanh"`` (the only shape before
    ``response`` existed) TAAF's margin is larger, since the targets then have
    exactly its output layer's form.

    References
    ----------
    .. [1] Y. Chen, Y. Li, R. Narayan, A. Subramanian and X. Xie, "Gene
       expression inference with deep learning", Bioinformatics 32(12),
       1832-1839, 2016.
    .. [2] V. Kunc and J. Kléma, "On transformative adaptive activation functions
       in neural networks for gene expression inference", PLoS ONE 16(1),
       e0243915, 2021.

    Examples
    --------
    >>> from sktaaf.datasets import make_expression
    >>> X, y = make_expression(n_samples=200, random_state=0)
    >>> X.shape, y.shape, X.dtype
    ((200, 942), (200, 952), dtype('float32'))
    >>> X, y = make_expression(n_samples=5, n_landmarks=3, n_targets=2,
    ...                        as_frame=True, random_state=0)
    >>> list(X.columns), list(y.columns)
    (['LM0001', 'LM0002', 'LM0003'], ['TG0001', 'TG0002'])
    """
    rng = check_random_state(random_state)
    programs = rng.normal(size=(n_samples, n_programs))
    landmarks = np.tanh(_activations(programs, n_landmarks, rng, (0.5, 1.5)))
    X = _expression(landmarks, noise, rng)
    activations = _activations(programs, n_targets, rng, (1.0, 3.0))
    if response == "mixed":
        shapes = rng.choice(np.array(RESPONSES), size=n_targets)
    else:
        shapes = np.full(n_targets, response)
    y = _targets(activations, shapes, noise, rng)
    if as_frame:
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                "make_expression(as_frame=True) requires pandas; install it with "
                "`pip install pandas` or `pip install 'sktaaf[io]'`."
            ) from exc
        X = pd.DataFrame(X, columns=gene_names("LM", n_landmarks), copy=False)
        y = pd.DataFrame(y, columns=gene_names("TG", n_targets), copy=False)
    return X, y
