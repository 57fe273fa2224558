"""funnelkit.stats is the one public namespace of the statistics: it re-exports rates, survival
and accumulators, and the package exports the same objects."""

import funnelkit as fk
from funnelkit import accumulators, rates, stats, survival


def test_stats_reexports_the_modules_by_concept():
    for module in (rates, survival, accumulators):
        for name in module.__all__:
            if name in stats.__all__:
                assert getattr(stats, name) is getattr(module, name)
    assert set(stats.__all__) <= set(rates.__all__) | set(survival.__all__) | set(accumulators.__all__)
    for name in ("rate_interval", "rate_intervals", "two_proportion_ztest", "chi2_test", "probability_b_beats_a",
                 "adjust_p_values", "compare_to_baseline", "kaplan_meier", "aalen_johansen", "DurationSummary",
                 "describe_durations", "KaplanMeier", "CumulativeIncidence"):
        assert getattr(fk, name) is getattr(stats, name)


def test_every_public_name_has_a_docstring_with_a_definition():
    for name in stats.__all__:
        obj = getattr(stats, name)
        if callable(obj):
            assert obj.__doc__ and len(obj.__doc__) > 40, name
