"""Bias and interval coverage of the pipeline forecast over data seeds of the sample: the
numbers behind the README's forecast table.

    PYTHONPATH=bindings/python python benchmarks/forecast_seeds.py [--seeds 10] [--leads 20000]

For each configuration and data seed: sample_crm(leads, seed), backtest_forecast with six
origins 30 days apart ending 90 days before 2024-12-31, three 30-day periods, 500 simulations,
no_amount=0. Prints per configuration the mean error (expected - actual) of the semi-Markov wins
per period for each seed and over the seeds, and the pooled share of the per-period intervals
(expected wins > 0) that held the actual wins and revenue, with its standard error. About a
minute per configuration at 20,000 leads.
"""

from __future__ import annotations

import argparse
import math

import funnelkit as fk

CONFIGS = {
    "no memory, mean amount": dict(memory="none", resample_amounts=False),
    "no memory, resampled amounts": dict(memory="none"),
    "visited stages (default)": dict(),
    "no memory, a model per source": dict(memory="none", segment="source", by_segment=True),
    "visited stages, a model per source": dict(segment="source", by_segment=True),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--leads", type=int, default=20_000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    for name, kw in CONFIGS.items():
        errors, cells, held_wins, held_revenue = [], 0, 0, 0
        for seed in range(1, args.seeds + 1):
            crm = fk.sample_crm(args.leads, seed=seed)
            bt = fk.backtest_forecast(crm, as_of="2024-12-31", simulations=500, no_amount=0, threads=args.threads,
                                      **kw)
            rows = bt.to_pandas()
            semi = rows[(rows["method"] == "semi_markov") & (rows["period"] != "all")]
            checked = semi[semi["expected_wins"] > 0]
            errors.append(float((semi["expected_wins"] - semi["actual_wins"]).mean()))
            cells += len(checked)
            held_wins += int(checked["covered_wins"].sum())
            held_revenue += int(checked["covered_revenue"].sum())
        share = held_wins / cells
        print(f"{name}: error of wins per period {' '.join(f'{e:+.1f}' for e in errors)}; "
              f"mean {sum(errors) / len(errors):+.2f}; coverage wins {share:.1%} "
              f"(s.e. {math.sqrt(share * (1 - share) / cells):.1%}, {cells} cells), "
              f"revenue {held_revenue / cells:.1%}", flush=True)


if __name__ == "__main__":
    main()
