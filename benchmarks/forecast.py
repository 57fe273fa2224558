"""Pipeline forecast timings: forecast_pipeline and backtest_forecast on the sample CRM, by
thread count, after a check that every thread count returned the same numbers.

    PYTHONPATH=bindings/python python benchmarks/forecast.py [--leads 20000] [--repeat 3]

Prints the median of --repeat runs per case (seconds). Hold the shared build lock while
timing on a shared machine so the numbers are not disturbed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import funnelkit as fk


def _median_time(call, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leads", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    crm = fk.sample_crm(args.leads, seed=42)
    cases = {
        "forecast, 2000 simulations": lambda th: fk.forecast_pipeline(crm, origin="2024-10-01", no_amount=0,
                                                                     threads=th).to_dict(),
        "forecast by segment, 500 simulations": lambda th: fk.forecast_pipeline(
            crm, origin="2024-10-01", no_amount=0, segment="source", by_segment=True, simulations=500,
            threads=th).to_dict(),
        "backtest, 6 origins, 500 simulations": lambda th: fk.backtest_forecast(
            crm, as_of="2024-12-31", no_amount=0, simulations=500, threads=th).to_dict(),
    }
    print(f"{args.leads:,} leads, {len(crm):,} records; median of {args.repeat} runs (s)")
    for name, call in cases.items():
        reference = None
        cells = []
        for th in args.threads:
            seconds, result = _median_time(lambda: call(th), args.repeat)
            if reference is None:
                reference = result
            elif result != reference:
                raise SystemExit(f"{name}: threads={th} gave other numbers than threads={args.threads[0]}")
            cells.append(f"threads={th}: {seconds:6.2f}")
        print(f"  {name:<40} " + "  ".join(cells))


if __name__ == "__main__":
    main()
