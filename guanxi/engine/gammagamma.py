"""The Gamma-Gamma model of spend per transaction, and discounted customer lifetime value.

Fader, Hardie & Lee (2005b), "RFM and CLV: using iso-value curves for customer base analysis",
Journal of Marketing Research 42(4); Fader & Hardie, "The Gamma-Gamma model of monetary value"
(2013 note). A customer's transaction values are Gamma(p, nu) around their own mean p/nu, and
nu varies across customers as Gamma(q, v). Fitted on customers with at least one repeat
purchase, from x (repeat purchases) and m (their mean value), it shrinks each customer's mean
towards the population's in proportion to how little we have seen of them.

The model assumes spend is independent of purchase frequency; check that (e.g. the correlation
of x and m among repeat buyers is small) before trusting the CLV it feeds.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, gammaln

from guanxi.engine._arrays import FloatArray, as_float_vector, compress_rows, same_length, weights_or_ones
from guanxi.engine._optimize import FitError, maximise, standard_errors, wsum
from guanxi.engine.bgnbd import BgNbdParams, conditional_expected_purchases

__all__ = [
    "FitError",
    "GammaGammaFit",
    "GammaGammaParams",
    "conditional_expected_average_value",
    "customer_lifetime_value",
    "fit_gamma_gamma",
]


@dataclass(frozen=True, slots=True)
class GammaGammaParams:
    """Shape p of spend per transaction; Gamma(q, v) across customers of its rate."""

    p: float
    q: float
    v: float

    def as_array(self) -> FloatArray:
        return np.array([self.p, self.q, self.v], dtype=np.float64)

    @property
    def population_mean(self) -> float:
        """E[spend per transaction] for a customer we know nothing about: p v / (q - 1)."""
        return self.p * self.v / (self.q - 1) if self.q > 1 else float("inf")


@dataclass(frozen=True, slots=True)
class GammaGammaFit:
    params: GammaGammaParams
    log_likelihood: float
    """Total log-likelihood of the mean spends (the density of m given x)."""
    n_customers: float
    n_rows: int
    iterations: int
    standard_errors: GammaGammaParams | None


def _check(frequency: npt.ArrayLike, monetary: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = as_float_vector("frequency", frequency)
    m = as_float_vector("monetary", monetary)
    same_length(frequency=x, monetary=m)
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise ValueError("frequency must be whole numbers of repeat purchases, >= 0")
    return x, m


class _Likelihood:
    """Mean negative log-likelihood of m | x and its gradient in log(p, q, v).

    Per customer: ln G(px+q) - ln G(px) - ln G(q) + q ln v + (px-1) ln m + px ln x
    - (px+q) ln(xm+v). The Gamma-function terms depend on x alone and are evaluated once per
    distinct x; the terms linear in p are sums fixed by the data; only ln(xm+v) is per row.
    """

    def __init__(self, x: FloatArray, m: FloatArray, w: FloatArray) -> None:
        self.total = float(w.sum())
        self.x_values, inverse = np.unique(x, return_inverse=True)
        self.x_weights = np.bincount(inverse, weights=w, minlength=len(self.x_values))
        self.w = w
        self.wx = w * x
        self.xm = x * m
        log_m = np.log(m)
        self.sum_log_m = wsum(w, log_m)
        self.sum_x_log_m = wsum(self.wx, log_m)
        self.sum_x_log_x = wsum(self.wx, np.log(x))

    def __call__(self, log_params: FloatArray) -> tuple[float, FloatArray]:
        p, q, v = np.exp(log_params)
        px = p * self.x_values
        wx_values = self.x_weights
        log_xm_v = np.log(self.xm + v)
        inv_xm_v = 1.0 / (self.xm + v)
        sum_wx_log, sum_w_log = wsum(self.wx, log_xm_v), wsum(self.w, log_xm_v)
        ll = wsum(wx_values, gammaln(px + q) - gammaln(px)) + self.total * (q * np.log(v) - gammaln(q))
        ll += p * (self.sum_x_log_m + self.sum_x_log_x) - self.sum_log_m - p * sum_wx_log - q * sum_w_log
        psi_pxq = digamma(px + q)
        g_p = wsum(wx_values * self.x_values, psi_pxq - digamma(px)) + self.sum_x_log_m + self.sum_x_log_x - sum_wx_log
        g_q = wsum(wx_values, psi_pxq) + self.total * (np.log(v) - digamma(q)) - sum_w_log
        g_v = self.total * q / v - p * wsum(self.wx, inv_xm_v) - q * wsum(self.w, inv_xm_v)
        gradient = np.array([g_p * p, g_q * q, g_v * v])
        return -ll / self.total, -gradient / self.total


def fit_gamma_gamma(
    frequency: npt.ArrayLike,
    monetary: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    *,
    compress: bool = True,
) -> GammaGammaFit:
    """Fit p, q, v by maximum likelihood on customers with x >= 1 and m > 0.

    Rows with x = 0 carry no spend information (m is undefined) and are left out, as in the
    papers; a zero or negative mean with x >= 1 (refunds) is refused, since the model's spend
    is positive by construction and the caller must decide what such customers mean.
    """
    x, m = _check(frequency, monetary)
    w = weights_or_ones(weights, len(x))
    keep = (x > 0) & (w > 0)
    x, m, w = x[keep], m[keep], w[keep]
    if len(x) == 0:
        raise FitError("no customers with a repeat purchase to fit")
    if np.any(m <= 0):
        raise ValueError("monetary value must be positive for customers with repeat purchases")
    if compress:
        (x, m), w = compress_rows((x, m), w)
    likelihood = _Likelihood(x, m, w)
    optimum = maximise(likelihood, np.zeros(3), likelihood.total)
    fitted = np.exp(optimum.log_params)
    errors = standard_errors(fitted, optimum.covariance)
    return GammaGammaFit(
        params=GammaGammaParams(*(float(v) for v in fitted)),
        log_likelihood=-optimum.mean_nll * likelihood.total,
        n_customers=likelihood.total,
        n_rows=len(x),
        iterations=optimum.iterations,
        standard_errors=None if errors is None else GammaGammaParams(*(float(v) for v in errors)),
    )


def conditional_expected_average_value(
    params: GammaGammaParams, frequency: npt.ArrayLike, monetary: npt.ArrayLike
) -> FloatArray:
    """E[spend per transaction | x, m] = p (v + x m) / (p x + q - 1).

    A weighted average of the population mean p v / (q - 1) and the customer's own m, with
    weight p x / (p x + q - 1) on m. Customers with x = 0 get the population mean (their m is
    ignored). lifetimes calls this the conditional expected average profit.
    """
    x, m = _check(frequency, monetary)
    if params.q <= 1:
        raise ValueError("q <= 1: the population mean spend is infinite")
    m = np.where(x > 0, m, 0.0)
    return np.asarray(params.p * (params.v + x * m) / (params.p * x + params.q - 1), dtype=np.float64)


def customer_lifetime_value(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    monetary: npt.ArrayLike,
    *,
    months: int = 12,
    discount_rate: float = 0.01,
    periods_per_month: float = 30.0,
) -> FloatArray:
    """Discounted value of the next `months` months, as lifetimes' `customer_lifetime_value`.

    For month k = 1..months, the purchases BG/NBD expects in that month (the difference of the
    cumulative expectations at k and k-1 months) times the Gamma-Gamma expected spend, divided
    by (1 + discount_rate)^k. `periods_per_month` is the number of time units of the BG/NBD
    fit in a month: 30 for days (lifetimes' freq="D"), 4.345 for weeks, 1 for months. The
    expectations are computed once per month boundary and differenced, not twice per month.
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    if discount_rate <= -1:
        raise ValueError("discount_rate must be greater than -1")
    x = as_float_vector("frequency", frequency)
    spend = conditional_expected_average_value(gamma_gamma, x, monetary)
    clv = np.zeros(len(x))
    previous = np.zeros(len(x))
    for k in range(1, months + 1):
        cumulative = conditional_expected_purchases(bgnbd, k * periods_per_month, x, recency, age)
        clv += spend * (cumulative - previous) / (1 + discount_rate) ** k
        previous = cumulative
    return clv
