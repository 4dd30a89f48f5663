"""Guanxi's pure analytics engine: customer-base models over plain NumPy arrays.

Nothing here imports Django or any other Guanxi module (an import-linter contract holds it to
that), so the maths can be tested, benchmarked and reused on its own, and the Django adapter
that feeds it per-customer summaries and writes the results back stays thin. See
docs/adr/0003-analytics-engine.md for the split between set-based summaries (run inside the
database) and the model fitting done here.

Modules:
- `bgnbd`: the BG/NBD repeat-purchase model (fit, P(alive), expected purchases).
- `gammagamma`: the Gamma-Gamma spend model and discounted customer lifetime value.
- `rfm`: recency/frequency/monetary quintile scores and named segments.
- `rules`: frequent itemsets, association rules and per-basket suggestions.
- `cohorts`: retention and revenue by first-purchase month.
- `churn`: a seeded churn classifier with hold-out AUC, Brier score and calibration.
- `engagement`: the 4 I's (involvement, interaction, intimacy, influence), 0–100, from weighted behaviours.
- `health`: account health, 0–100, with the reasons that cost points.
- `profitability`: revenue, discounts, cost to serve and acquisition cost, exact to the cent.
- `sessions`: the 30-minute session rule shared by tracking and timelines.
- `synthetic`: draws from the models with known parameters (tests, benchmarks, demo data).
- `summaries`: per-customer summaries, RFM scores and cohort cells as Ibis expressions run
  inside the database (SQLite, PostgreSQL, DuckDB, Spark).
"""

__version__ = "1.3.0"
"""Stored with every analytics run; bump it when a change alters any result."""
