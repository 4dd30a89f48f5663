"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting your customers
the easy way", Marketing Science 24(2)).

While alive, a customer buys at a Poisson rate lambda ~ Gamma(r, alpha); after each repeat
purchase they drop out for good with probability p ~ Beta(a, b). From each customer's summary
- x: number of repeat purchases (frequency),
- t_x: time of the last purchase, from the first (recency; 0 when x = 0),
- T: time from the first purchase to the end of the observation (age),
the model gives the probability that the customer is still alive and the purchases to expect.
Times are in any one unit (days, weeks); alpha and predictions are in that unit.

Why the implementation looks as it does:
- Only x, t_x and T enter the likelihood, so identical rows are fitted once with a weight
  (`compress=True`): a million customers summarised in whole days collapse to far fewer rows.
- The Gamma-function parts depend on x alone, so they are evaluated once per distinct x and
  weighted by how many customers share it; only the two-branch log-sum-exp is per row.
- The x > 0 likelihood is a sum of two terms of very different size for heavy buyers; it is
  summed as log-sum-exp (`np.logaddexp`) so neither underflows.
- The gradient is analytic (digamma), so the optimiser needs one pass over the data per step.
- Expected purchases need the Gauss hypergeometric function 2F1, whose direct form overflows
  for large x. It is evaluated after Euler's transformation, which leaves parameters that do
  not grow with x and a series that converges faster as x grows; see `_log_hyp_term`.
"""

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, expit, gammaln, hyp2f1

from guanxi.engine._arrays import FloatArray, as_float_vector, compress_rows, same_length, weights_or_ones
from guanxi.engine._optimize import FitError, maximise, standard_errors, wsum

__all__ = [
    "BgNbdFit",
    "BgNbdParams",
    "FitError",
    "conditional_expected_purchases",
    "expected_purchases",
    "fit_bgnbd",
    "log_likelihood",
    "probability_alive",
]


@dataclass(frozen=True, slots=True)
class BgNbdParams:
    """Gamma(r, alpha) purchase rates and Beta(a, b) dropout probabilities."""

    r: float
    alpha: float
    a: float
    b: float

    def as_array(self) -> FloatArray:
        return np.array([self.r, self.alpha, self.a, self.b], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class BgNbdFit:
    """A fitted model and the figures a run keeps to judge it."""

    params: BgNbdParams
    log_likelihood: float
    """Total log-likelihood over all customers, in the time unit of the input."""
    n_customers: float
    """Sum of the weights (customers represented)."""
    n_rows: int
    """Distinct rows the likelihood was evaluated on after compression."""
    iterations: int
    standard_errors: BgNbdParams | None
    """Asymptotic standard errors from the observed information; None if it was singular."""


@dataclass(frozen=True, slots=True)
class _Summary:
    x: FloatArray
    t_x: FloatArray
    age: FloatArray


def _check_summary(frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike) -> _Summary:
    x = as_float_vector("frequency", frequency)
    t_x = as_float_vector("recency", recency)
    big_t = as_float_vector("age", age)
    same_length(frequency=x, recency=t_x, age=big_t)
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise ValueError("frequency must be whole numbers of repeat purchases, >= 0")
    if np.any(t_x < 0) or np.any(t_x > big_t):
        raise ValueError("recency must lie between 0 and age (T)")
    if np.any(big_t <= 0):
        raise ValueError("age (T) must be positive")
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("recency must be 0 for customers with no repeat purchase")
    return _Summary(x=x, t_x=t_x, age=big_t)


class _Likelihood:
    """Mean negative log-likelihood and its gradient in log-parameters, data prepared once."""

    def __init__(self, x: FloatArray, t_x: FloatArray, age: FloatArray, w: FloatArray) -> None:
        self.total = float(w.sum())
        self.x_values, inverse = np.unique(x, return_inverse=True)
        self.x_weights = np.bincount(inverse, weights=w, minlength=len(self.x_values))
        zero = x == 0
        self.age0 = age[zero]
        self.w0 = w[zero]
        pos = ~zero
        self.x1 = x[pos]
        self.t_x1 = t_x[pos]
        self.age1 = age[pos]
        self.w1 = w[pos]
        self.x1_index = inverse[pos]
        # x - 1 for the per-x constant, clipped so x = 0 (unused there) stays in the domain.
        self.x_minus_1 = np.maximum(self.x_values - 1, 0)

    def __call__(self, log_params: FloatArray) -> tuple[float, FloatArray]:
        r, alpha, a, b = np.exp(log_params)
        xv, wx = self.x_values, self.x_weights
        # Terms of x alone, once per distinct x (A1 + A2 of FHL's section 7).
        per_x = (
            gammaln(r + xv)
            - gammaln(r)
            + r * np.log(alpha)
            + gammaln(a + b)
            + gammaln(b + xv)
            - gammaln(b)
            - gammaln(a + b + xv)
        )
        ll = wsum(wx, per_x)
        # x = 0: only the "still alive" branch, (alpha + T)^-r.
        log_age0 = np.log(alpha + self.age0)
        w0_log_age0 = wsum(self.w0, log_age0)
        ll -= r * w0_log_age0
        # x > 0: log of [(alpha+T)^-(r+x) + a/(b+x-1) (alpha+t_x)^-(r+x)] = ln A3 + softplus(d),
        # d = ln A4 - ln A3, with softplus and the logistic weight of A4 sharing one exp(-|d|).
        log_age1 = np.log(alpha + self.age1)
        log_tx1 = np.log(alpha + self.t_x1)
        rx = r + self.x1
        log_ratio = np.log(a) - np.log(b + self.x_minus_1)  # per distinct x
        d = log_ratio[self.x1_index] - rx * (log_tx1 - log_age1)
        e = np.exp(-np.abs(d))
        softplus = np.maximum(d, 0.0) + np.log1p(e)
        ll += wsum(self.w1, softplus - rx * log_age1)

        sigmoid = np.where(d >= 0, 1.0, e) / (1.0 + e)
        w4 = self.w1 * sigmoid  # weight of the "dropped out after t_x" branch
        w3 = self.w1 - w4
        g_r = wsum(wx, digamma(r + xv) - digamma(r) + np.log(alpha))
        g_r -= w0_log_age0 + wsum(w3, log_age1) + wsum(w4, log_tx1)
        g_alpha = self.total * r / alpha - r * wsum(self.w0, 1.0 / (alpha + self.age0))
        g_alpha -= wsum(w3 * rx, 1.0 / (alpha + self.age1)) + wsum(w4 * rx, 1.0 / (alpha + self.t_x1))
        dg_ab = digamma(a + b) - digamma(a + b + xv)
        g_a = wsum(wx, dg_ab) + float(w4.sum()) / a
        w4_by_x = np.bincount(self.x1_index, weights=w4, minlength=len(xv))
        g_b = wsum(wx, dg_ab + digamma(b + xv) - digamma(b)) - wsum(w4_by_x, 1.0 / (b + self.x_minus_1))
        gradient = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
        return -ll / self.total, -gradient / self.total


def fit_bgnbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    *,
    compress: bool = True,
    initial: BgNbdParams | None = None,
) -> BgNbdFit:
    """Fit the BG/NBD model by maximum likelihood.

    `weights` says how many customers each row stands for (default one each). Time is rescaled
    so the oldest customer has age 1 while fitting (alpha is then in a well-conditioned range
    whatever the unit) and alpha is scaled back. Raises FitError when the optimum is not
    reached, so a scheduled run records a failure rather than wrong parameters.
    """
    s = _check_summary(frequency, recency, age)
    w = weights_or_ones(weights, len(s.x))
    keep = w > 0
    x, t_x, age, w = s.x[keep], s.t_x[keep], s.age[keep], w[keep]
    if len(x) == 0:
        raise FitError("no customers to fit")
    if compress:
        (x, t_x, age), w = compress_rows((x, t_x, age), w)
    scale = 1.0 / float(age.max())
    likelihood = _Likelihood(x, t_x * scale, age * scale, w)
    if initial is None:
        x0 = np.zeros(4)
    else:
        start = initial.as_array()
        start[1] *= scale
        x0 = np.log(start)
    optimum = maximise(likelihood, x0, likelihood.total)
    fitted = np.exp(optimum.log_params)
    errors = standard_errors(fitted, optimum.covariance)
    fitted[1] /= scale
    params = BgNbdParams(*(float(v) for v in fitted))
    se: BgNbdParams | None = None
    if errors is not None:
        errors[1] /= scale
        se = BgNbdParams(*(float(v) for v in errors))
    total_ll = -_Likelihood(x, t_x, age, w)(np.log(params.as_array()))[0] * likelihood.total
    return BgNbdFit(
        params=params,
        log_likelihood=total_ll,
        n_customers=likelihood.total,
        n_rows=len(x),
        iterations=optimum.iterations,
        standard_errors=se,
    )


def log_likelihood(
    params: BgNbdParams,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> float:
    """Total log-likelihood of the data under `params` (for comparing fits and tests)."""
    s = _check_summary(frequency, recency, age)
    w = weights_or_ones(weights, len(s.x))
    likelihood = _Likelihood(s.x, s.t_x, s.age, w)
    return -likelihood(np.log(params.as_array()))[0] * likelihood.total


def _log_alive_odds(params: BgNbdParams, s: _Summary) -> FloatArray:
    """log of a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x) for x > 0; -inf where x = 0."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    pos = s.x > 0
    x = s.x
    out = np.full(len(x), -np.inf)
    out[pos] = (
        np.log(a) - np.log(b + x[pos] - 1) + (r + x[pos]) * (np.log(alpha + s.age[pos]) - np.log(alpha + s.t_x[pos]))
    )
    return out


def probability_alive(
    params: BgNbdParams, frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike
) -> FloatArray:
    """P(customer still alive at T | x, t_x, T) (FHL 2005, eq. 13).

    1 / (1 + odds) is computed as expit(-log odds), which stays exact for long silences where
    the odds overflow a float. A customer with no repeat purchase cannot have dropped out
    (dropout only follows a purchase) and gets 1.
    """
    s = _check_summary(frequency, recency, age)
    return np.asarray(expit(-_log_alive_odds(params, s)), dtype=np.float64)


def _log_hyp_term(params: BgNbdParams, x: FloatArray, z: FloatArray) -> FloatArray:
    """log[(1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z)] for 0 <= z < 1.

    Euler's transformation 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) turns it into
    (a-1) log(1-z) + log 2F1(a+b-1-r, a-1; a+b+x-1; z): the first two parameters no longer
    grow with x, and a larger x only speeds the series up, where the direct form's terms grow
    like (1-z)^-(r+x) and overflow for heavy buyers. Where the transformed value is still not
    finite (a pathological fit with a+b+x-1 <= 0), the direct form is tried, then NaN.
    """
    r, a, b = params.r, params.a, params.b
    c = a + b + x - 1
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        euler = (a - 1) * np.log1p(-z) + np.log(hyp2f1(a + b - 1 - r, a - 1, c, z))
        bad = ~np.isfinite(euler)
        if np.any(bad):
            direct = (r + x[bad]) * np.log1p(-z[bad]) + np.log(hyp2f1(r + x[bad], b + x[bad], c[bad], z[bad]))
            euler[bad] = np.where(np.isfinite(direct), direct, np.nan)
    return np.asarray(euler, dtype=np.float64)


def _off_singularity(params: BgNbdParams) -> BgNbdParams:
    """Move a off 1 by 1e-7: a = 1 is a removable singularity of the expectation formulas.

    Both (a+b+x-1)/(a-1) and 1 - (1-z)^(a-1) 2F1(...) vanish there; at a distance of 1e-7 the
    ratio is exact to about that much, far below what any data can tell about a.
    """
    if abs(params.a - 1.0) < 1e-7:
        return replace(params, a=1.0 + 1e-7)
    return params


def expected_purchases(params: BgNbdParams, t: npt.ArrayLike) -> FloatArray:
    """E[X(t)]: repeat purchases a newly acquired customer is expected to make in (0, t].

    (FHL 2005, eq. 9; with the hypergeometric term evaluated as in `_log_hyp_term`.)
    """
    t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if np.any(t_arr < 0) or not np.all(np.isfinite(t_arr)):
        raise ValueError("t must be finite and >= 0")
    params = _off_singularity(params)
    z = t_arr / (params.alpha + t_arr)
    log_term = _log_hyp_term(params, np.zeros_like(t_arr), z)
    return np.asarray((params.a + params.b - 1) / (params.a - 1) * -np.expm1(log_term), dtype=np.float64)


def conditional_expected_purchases(
    params: BgNbdParams,
    t: float | npt.ArrayLike,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: purchases expected in the next t time units (FHL 2005, eq. 10).

    `t` is one horizon for everybody or one per customer. The product is assembled in logs,
    1 - exp(.) as -expm1(.) so short horizons keep their digits, and the 1/(1 + odds) factor
    as P(alive).
    """
    s = _check_summary(frequency, recency, age)
    t_arr = np.broadcast_to(np.asarray(t, dtype=np.float64), s.x.shape)
    if np.any(t_arr < 0) or not np.all(np.isfinite(t_arr)):
        raise ValueError("t must be finite and >= 0")
    params = _off_singularity(params)
    a, b = params.a, params.b
    z = t_arr / (params.alpha + s.age + t_arr)
    log_term = _log_hyp_term(params, s.x, z)
    first = (a + b + s.x - 1) / (a - 1)
    alive = expit(-_log_alive_odds(params, s))
    return np.asarray(first * -np.expm1(log_term) * alive, dtype=np.float64)
