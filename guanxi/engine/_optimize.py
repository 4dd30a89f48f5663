"""Maximum-likelihood driver shared by the models: quasi-Newton search, Newton polish, errors.

Every model here is fitted on log-parameters (so positivity needs no bounds) by minimising the
mean negative log-likelihood with its analytic gradient. L-BFGS-B gets close quickly; a few
Newton steps with one finite-difference Hessian of the analytic gradient then land on the
optimum to near machine precision, which is what lets two implementations agree to 1e-4, and
the same Hessian gives standard errors without another pass over the data.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from guanxi.engine._arrays import FloatArray

Objective = Callable[[FloatArray], tuple[float, FloatArray]]


class FitError(RuntimeError):
    """The likelihood could not be maximised (no data, or the optimiser did not converge)."""


@dataclass(frozen=True, slots=True)
class Optimum:
    log_params: FloatArray
    mean_nll: float
    iterations: int
    covariance: FloatArray | None
    """Covariance of the log-parameters (inverse observed information), None if singular."""


def wsum(weights: FloatArray, values: FloatArray) -> float:
    """Weighted sum as one fused loop.

    `einsum` rather than `@`: a BLAS dot product wakes its thread pool for every call, which
    on a busy machine costs ten times the arithmetic for the vector lengths used here.
    """
    return float(np.einsum("i,i->", weights, values))


def _hessian(objective: Objective, x: FloatArray) -> FloatArray:
    """Central differences of the analytic gradient: 2k gradient calls, symmetric by averaging."""
    k = len(x)
    h = np.empty((k, k))
    for i in range(k):
        step = 1e-5 * max(1.0, abs(float(x[i])))
        up = x.copy()
        down = x.copy()
        up[i] += step
        down[i] -= step
        h[i] = (objective(up)[1] - objective(down)[1]) / (2 * step)
    return (h + h.T) / 2


def maximise(objective: Objective, x0: FloatArray, total_weight: float, *, max_iterations: int = 2000) -> Optimum:
    """Minimise `objective` (mean negative log-likelihood and gradient) from `x0`.

    `total_weight` (the number of customers) turns the mean's Hessian into the observed
    information of the whole sample for the covariance.

    The line search may try parameters where the likelihood overflows; those trials evaluate to
    inf or NaN, which L-BFGS-B backs away from, so the floating-point warnings they raise are
    silenced here. A fit that ends somewhere not finite or not converged raises `FitError`.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        return _maximise(objective, x0, total_weight, max_iterations)


def _maximise(objective: Objective, x0: FloatArray, total_weight: float, max_iterations: int) -> Optimum:
    result = minimize(
        objective,
        x0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iterations, "ftol": 1e-12, "gtol": 1e-8},
    )
    x = np.asarray(result.x, dtype=np.float64)
    value, gradient = objective(x)
    iterations = int(result.nit)
    if not np.isfinite(value):
        raise FitError(f"log-likelihood is not finite at the optimum ({result.message})")
    # Chord-Newton polish: one Hessian at the quasi-Newton result, reused for every step
    # (convergence is linear with a tiny ratio this close, and it saves 2k gradients a step).
    hessian = _hessian(objective, x)
    for _ in range(8):
        if float(np.max(np.abs(gradient))) < 1e-12:
            break
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            break
        candidate = x - step
        candidate_value, candidate_gradient = objective(candidate)
        if not np.isfinite(candidate_value) or candidate_value > value + 1e-15 * abs(value):
            break
        x, value, gradient = candidate, candidate_value, candidate_gradient
        iterations += 1
    if float(np.max(np.abs(gradient))) > 1e-5:
        raise FitError(f"the optimiser did not converge: {result.message}; gradient {gradient}")
    covariance: FloatArray | None
    try:
        covariance = np.linalg.inv(hessian * total_weight)
    except np.linalg.LinAlgError:
        covariance = None
    if covariance is not None and not np.all(np.diag(covariance) > 0):
        covariance = None
    return Optimum(log_params=x, mean_nll=float(value), iterations=iterations, covariance=covariance)


def standard_errors(params: FloatArray, covariance: FloatArray | None) -> FloatArray | None:
    """Delta method: the error of exp(phi) is exp(phi) times the error of phi."""
    if covariance is None:
        return None
    return np.asarray(params * np.sqrt(np.diag(covariance)), dtype=np.float64)
