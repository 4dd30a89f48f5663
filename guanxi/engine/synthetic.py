"""Draws from the BG/NBD and Gamma-Gamma models with known parameters.

Used by the tests (a fit on data drawn from known parameters must recover them), by the
benchmarks (a million customers in a second) and usable for demo data. Fully vectorised and
driven by a caller's `numpy.random.Generator`, so a seed reproduces the same customers.
"""

import numpy as np
import numpy.typing as npt

from guanxi.engine._arrays import FloatArray, as_float_vector
from guanxi.engine.bgnbd import BgNbdParams
from guanxi.engine.gammagamma import GammaGammaParams


def simulate_bgnbd(
    params: BgNbdParams, age: npt.ArrayLike, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return (frequency, recency, alive) for customers observed for `age` time units each.

    Each customer draws lambda ~ Gamma(r, alpha) and p ~ Beta(a, b). Repeat purchases arrive as
    a Poisson process; after each one the customer drops out with probability p, so the number
    of purchases up to and including the one that ends their life is J ~ Geometric(p) on
    {1, 2, ...}. With N ~ Poisson(lambda T) arrivals in (0, T] (had they stayed), the observed
    x = min(J, N), and the last purchase is the x-th of N arrival times, which are uniform on
    (0, T]: t_x = T * Beta(x, N - x + 1). The customer is alive at T when N < J.
    """
    big_t = as_float_vector("age", age)
    n = len(big_t)
    rate = rng.gamma(params.r, 1.0 / params.alpha, size=n)
    dropout = rng.beta(params.a, params.b, size=n)
    # Geometric needs p > 0; a p of exactly 0 (underflow of Beta) means "never drops out".
    lifetime_purchases = np.where(dropout > 0, rng.geometric(np.maximum(dropout, 1e-300)), np.iinfo(np.int64).max)
    arrivals = rng.poisson(rate * big_t)
    x = np.minimum(lifetime_purchases, arrivals)
    positive = x > 0
    recency = np.zeros(n)
    recency[positive] = big_t[positive] * rng.beta(x[positive], arrivals[positive] - x[positive] + 1)
    alive = (arrivals < lifetime_purchases).astype(np.float64)
    return x.astype(np.float64), recency, alive


def simulate_spend(params: GammaGammaParams, frequency: npt.ArrayLike, rng: np.random.Generator) -> FloatArray:
    """Mean value of each customer's `frequency` repeat transactions under the Gamma-Gamma model.

    nu ~ Gamma(q, rate v) per customer; each transaction ~ Gamma(p, rate nu), so the mean of x
    of them is Gamma(p x, rate nu x). Customers with x = 0 get 0 (no spend observed).
    """
    x = as_float_vector("frequency", frequency)
    nu = rng.gamma(params.q, 1.0 / params.v, size=len(x))
    out = np.zeros(len(x))
    positive = x > 0
    out[positive] = rng.gamma(params.p * x[positive], 1.0 / (nu[positive] * x[positive]))
    return out
