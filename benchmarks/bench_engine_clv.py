"""BG/NBD + Gamma-Gamma fit on synthetic customers: the engine against `lifetimes`, side by side.

One run on one machine: the customers are drawn once (seeded) from a BG/NBD with
r = 0.243, alpha = 4.414 weeks (30.9 days), a = 0.793, b = 2.426 and Gamma-Gamma spend with
p = 6.25, q = 3.74, v = 15.44, observed for 30-730 days each, with recency and age in whole
days as a database summary gives them. Then both models are fitted

- by `guanxi.engine` in this process (best of `--repeat`), with identical rows compressed
  (the default) and, for reference, without;
- by `lifetimes` 0.11.3 `BetaGeoFitter().fit` + `GammaGammaFitter().fit` in its own venv
  (see bench_engine_common.py), on the same arrays, timing only the two fit calls.

Targets: engine at least 5x faster; the same parameters to 1e-4 (largest relative difference).

    python benchmarks/bench_engine_clv.py --customers 1000000
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_engine_common import run_reference
from guanxi.engine.bgnbd import BgNbdParams, fit_bgnbd
from guanxi.engine.gammagamma import GammaGammaParams, fit_gamma_gamma
from guanxi.engine.synthetic import simulate_bgnbd, simulate_spend

TRUE_BGNBD = BgNbdParams(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426)
TRUE_GG = GammaGammaParams(p=6.25, q=3.74, v=15.44)

REFERENCE = """
import time
import numpy as np
from lifetimes import BetaGeoFitter, GammaGammaFitter
x, t_x, age, m = (np.load(DATA / f"{name}.npy") for name in ("x", "t_x", "age", "m"))
repeat = x > 0
started = time.perf_counter()
bgf = BetaGeoFitter().fit(x, t_x, age)
middle = time.perf_counter()
ggf = GammaGammaFitter().fit(x[repeat], m[repeat])
done = time.perf_counter()
print(json.dumps({
    "bgnbd": [float(bgf.params_[k]) for k in ("r", "alpha", "a", "b")],
    "gg": [float(ggf.params_[k]) for k in ("p", "q", "v")],
    "bgnbd_seconds": middle - started,
    "gg_seconds": done - middle,
}))
"""


def draw(customers: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    age = rng.integers(30, 731, size=customers).astype(np.float64)
    x, t_x, _ = simulate_bgnbd(TRUE_BGNBD, age, rng)
    t_x = np.floor(t_x)
    m = np.round(simulate_spend(TRUE_GG, x, rng), 2)
    m[(x > 0) & (m <= 0)] = 0.01
    return {"x": x, "t_x": t_x, "age": age, "m": m}


def engine_fit(data: dict[str, np.ndarray], compress: bool) -> tuple[list[float], list[float], float, float]:
    started = time.perf_counter()
    bgnbd = fit_bgnbd(data["x"], data["t_x"], data["age"], compress=compress)
    middle = time.perf_counter()
    repeat = data["x"] > 0
    gg = fit_gamma_gamma(data["x"][repeat], data["m"][repeat], compress=compress)
    done = time.perf_counter()
    return list(bgnbd.params.as_array()), list(gg.params.as_array()), middle - started, done - middle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--repeat", type=int, default=3, help="engine runs; the best is reported")
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()

    data = draw(args.customers, args.seed)
    print(f"{args.customers:,} customers, {int((data['x'] > 0).sum()):,} with repeat purchases", flush=True)
    runs = [engine_fit(data, compress=True) for _ in range(args.repeat)]
    best = min(runs, key=lambda run: run[2] + run[3])
    plain = engine_fit(data, compress=False)
    engine_seconds = best[2] + best[3]
    result: dict[str, object] = {
        "customers": args.customers,
        "engine": {"bgnbd": best[0], "gg": best[1], "bgnbd_seconds": best[2], "gg_seconds": best[3]},
        "engine_uncompressed": {"bgnbd_seconds": plain[2], "gg_seconds": plain[3]},
    }
    summary = f"engine {engine_seconds:.2f} s (BG/NBD {best[2]:.2f} + Gamma-Gamma {best[3]:.2f})"
    if not args.skip_reference:
        print("fitting with lifetimes 0.11.3 …", flush=True)
        ref = run_reference(REFERENCE, data, {})
        theirs = np.array(ref["bgnbd"] + ref["gg"])
        difference = float(np.max(np.abs(np.array(best[0] + best[1]) - theirs) / np.abs(theirs)))
        ref_seconds = float(ref["bgnbd_seconds"] + ref["gg_seconds"])
        speedup = ref_seconds / engine_seconds
        speedup_plain = ref_seconds / (plain[2] + plain[3])
        result |= {
            "lifetimes": ref,
            "max_relative_param_difference": difference,
            "speedup": speedup,
            "speedup_uncompressed": speedup_plain,
        }
        summary += (
            f"; lifetimes {ref_seconds:.2f} s; speed-up {speedup:.1f}x (without row compression "
            f"{speedup_plain:.1f}x); max relative parameter difference {difference:.1e}"
        )
    print(json.dumps(result, indent=2))
    print(summary)


if __name__ == "__main__":
    main()
