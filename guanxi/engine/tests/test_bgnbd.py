"""BG/NBD: golden figures on CDNOW, lifetimes side by side, recovery, numerical edges."""

import warnings

import numpy as np
import pytest
from scipy import integrate
from scipy.special import betaln

from guanxi.engine._arrays import compress_rows
from guanxi.engine.bgnbd import (
    BgNbdParams,
    FitError,
    conditional_expected_purchases,
    expected_purchases,
    fit_bgnbd,
    log_likelihood,
    probability_alive,
)
from guanxi.engine.synthetic import simulate_bgnbd
from guanxi.engine.tests._data import cdnow

# lifetimes 0.11.3 BetaGeoFitter on the same file (run side by side in benchmarks/.ref-venv).
LIFETIMES_PARAMS = np.array([0.24259292828, 4.413532265272, 0.792885966441, 2.425752382626])


@pytest.fixture(scope="module")
def cdnow_fit() -> tuple[dict[str, np.ndarray], BgNbdParams, float]:
    data = cdnow()
    fit = fit_bgnbd(data["x"], data["t_x"], data["T"])
    return data, fit.params, fit.log_likelihood


def test_cdnow_matches_published_estimates(cdnow_fit: tuple[dict[str, np.ndarray], BgNbdParams, float]) -> None:
    """Fader, Hardie & Lee (2005), section 5: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4."""
    _, params, ll = cdnow_fit
    assert (round(params.r, 3), round(params.alpha, 3), round(params.a, 3), round(params.b, 3)) == (
        0.243,
        4.414,
        0.793,
        2.426,
    )
    assert round(ll, 1) == -9582.4


def test_cdnow_matches_lifetimes(cdnow_fit: tuple[dict[str, np.ndarray], BgNbdParams, float]) -> None:
    _, params, _ = cdnow_fit
    np.testing.assert_allclose(params.as_array(), LIFETIMES_PARAMS, rtol=1e-6)


def test_cdnow_published_customer_prediction(cdnow_fit: tuple[dict[str, np.ndarray], BgNbdParams, float]) -> None:
    """FHL 2005, section 5: x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in the next 39 weeks."""
    _, params, _ = cdnow_fit
    expected = conditional_expected_purchases(params, 39, [2], [30.43], [38.86])
    assert round(float(expected[0]), 3) == 1.226


def test_cdnow_predictions_match_lifetimes(cdnow_fit: tuple[dict[str, np.ndarray], BgNbdParams, float]) -> None:
    data, params, _ = cdnow_fit
    head = slice(0, 10)
    purchases = conditional_expected_purchases(params, 39, data["x"][head], data["t_x"][head], data["T"][head])
    np.testing.assert_allclose(
        purchases,
        [1.225910424174, 0.203250624256, 0.194780857939, 0.194780857939, 0.194780857939,
         3.337239646527, 0.301597931006, 0.194780857939, 1.324100854322, 0.194780857939],
        rtol=1e-5,
    )  # fmt: skip
    alive = probability_alive(params, data["x"][head], data["t_x"][head], data["T"][head])
    np.testing.assert_allclose(
        alive,
        [0.726609136799, 0.212227388072, 1, 1, 1, 0.641800639352, 0.314918300397, 1, 0.784807568173, 1],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        expected_purchases(params, [1.0, 39.0, 78.0]), [0.053184736896, 1.195016228446, 1.857971703528], rtol=1e-6
    )
    # Heavy buyers where the direct hypergeometric form is at the edge of its range.
    heavy = conditional_expected_purchases(params, 10, [0, 1, 50, 300, 2000], [0, 30, 37, 38, 38.5], [38.86] * 5)
    np.testing.assert_allclose(
        heavy, [0.054210097331, 0.191178842834, 9.388423759398, 30.530476154967, 0.059343368844], rtol=1e-5
    )


def test_log_likelihood_agrees_with_fit(cdnow_fit: tuple[dict[str, np.ndarray], BgNbdParams, float]) -> None:
    data, params, ll = cdnow_fit
    assert log_likelihood(params, data["x"], data["t_x"], data["T"]) == pytest.approx(ll, rel=1e-12)


def test_recovers_known_parameters_from_simulated_customers() -> None:
    truth = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    rng = np.random.default_rng(20261201)
    age = rng.uniform(30, 78, size=40_000)
    x, t_x, _ = simulate_bgnbd(truth, age, rng)
    fit = fit_bgnbd(x, t_x, age)
    assert fit.standard_errors is not None
    estimate, errors = fit.params.as_array(), fit.standard_errors.as_array()
    # Each estimate within 3 of its own standard errors of the truth (and the errors are small).
    assert np.all(np.abs(estimate - truth.as_array()) < 3 * errors), (estimate, errors)
    assert np.all(errors / truth.as_array() < 0.15)


def test_weights_and_compression_give_the_same_fit() -> None:
    rng = np.random.default_rng(7)
    age = rng.integers(10, 60, size=3000).astype(float)
    x, t_x, _ = simulate_bgnbd(BgNbdParams(0.5, 8.0, 0.6, 3.0), age, rng)
    t_x = np.floor(t_x)
    plain = fit_bgnbd(x, t_x, age, compress=False)
    (cx, ct, ca), w = compress_rows((x, t_x, age), np.ones(len(x)))
    assert len(cx) < len(x)
    weighted = fit_bgnbd(cx, ct, ca, w, compress=False)
    np.testing.assert_allclose(weighted.params.as_array(), plain.params.as_array(), rtol=1e-7)
    assert weighted.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-10)
    assert weighted.n_customers == 3000


def test_compress_rows_sums_weights_of_identical_rows() -> None:
    a = np.array([1.5, 0.0, 1.5, 2.0, 0.0])
    b = np.array([2.0, 3.0, 2.0, 2.0, 3.0])
    (ua, ub), w = compress_rows((a, b), np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert sorted(zip(ua.tolist(), ub.tolist(), w.tolist(), strict=True)) == [
        (0.0, 3.0, 7.0),
        (1.5, 2.0, 4.0),
        (2.0, 2.0, 4.0),
    ]
    (ia,), iw = compress_rows((np.array([3.0, 1.0, 3.0]),), np.ones(3))
    assert ia.tolist() == [1.0, 3.0]
    assert iw.tolist() == [1.0, 2.0]


def _expected_by_quadrature(params: BgNbdParams, t: float, x: float, t_x: float, age: float) -> float:
    """E[Y(t) | x, t_x, T] without the hypergeometric function, to check it independently.

    Given alive, lambda | data ~ Gamma(r+x, alpha+T) and p | data ~ Beta(a, b+x), and
    E[Y(t) | lambda, p] = (1 - exp(-lambda p t)) / p; the lambda expectation is closed-form,
    the p one is done by quadrature; then times P(alive).
    """
    k, scale = params.r + x, params.alpha + age

    big_b = params.b + x

    def integrand(log_p: float) -> float:
        # Over log p (dp = p dlog p), which removes the p^(a-1) singularity at 0 for a < 1;
        # the Beta density in logs, which stays accurate for b + x in the millions.
        p = np.exp(log_p)
        log_density = (params.a - 1) * log_p + (big_b - 1) * np.log1p(-p) - betaln(params.a, big_b)
        return float(-np.expm1(k * (np.log(scale) - np.log(scale + p * t))) * np.exp(log_density))

    with warnings.catch_warnings():
        # quadpack may report that 1e-9 is beyond reach for the sharpest peak; the check is 1e-6.
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        value = integrate.quad(
            integrand, np.log(1e-12 / big_b), np.log(min(1.0, 200 / big_b)), limit=500, epsabs=0, epsrel=1e-9
        )[0]
    return float(value * probability_alive(params, [x], [t_x], [age])[0])


@pytest.mark.parametrize(("t", "x", "age"), [(39, 2, 38.86), (10, 1000, 100), (10, 1e6, 100)])
def test_expected_purchases_match_quadrature_for_heavy_buyers(t: float, x: float, age: float) -> None:
    params = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    formula = conditional_expected_purchases(params, t, [x], [age], [age])[0]
    assert formula == pytest.approx(_expected_by_quadrature(params, t, x, age, age), rel=1e-6)


def test_extreme_histories_stay_finite_and_sensible() -> None:
    params = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    # The same buyer silent for 50 weeks is dead: P(alive) underflows to 0, with no warning.
    assert probability_alive(params, [1e6], [50.0], [100.0])[0] == 0.0
    # Long horizons and long histories.
    far = conditional_expected_purchases(params, [1e6, 1e-9], [5, 5], [500, 500], [1000, 1000])
    assert np.all(np.isfinite(far))
    assert 0 < far[1] < 1e-9 < far[0]
    # a = 1 is a removable singularity.
    near_one = [
        float(conditional_expected_purchases(BgNbdParams(0.5, 5.0, a, 2.0), 20, [3], [10], [30])[0])
        for a in (1 - 1e-6, 1.0, 1 + 1e-6)
    ]
    assert near_one[1] == pytest.approx(near_one[0], rel=1e-4)
    assert near_one[1] == pytest.approx(near_one[2], rel=1e-4)


@pytest.mark.parametrize(
    ("frequency", "recency", "age", "message"),
    [
        ([1.5], [1.0], [2.0], "whole numbers"),
        ([1.0], [3.0], [2.0], "between 0 and"),
        ([0.0], [1.0], [2.0], "must be 0"),
        ([1.0], [1.0], [0.0], "between 0 and"),
        ([1.0, 2.0], [1.0], [2.0], "differ in length"),
        ([np.nan], [1.0], [2.0], "finite"),
    ],
)
def test_bad_summaries_are_refused(
    frequency: list[float], recency: list[float], age: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        fit_bgnbd(frequency, recency, age)


def test_no_customers_is_a_fit_error() -> None:
    with pytest.raises(FitError):
        fit_bgnbd([1.0], [1.0], [2.0], [0.0])
