// funnelkit: absorbing Markov chains. Two uses:
//
// 1. Markov attribution (removal effect). The touches of every path (converting or not) are
//    read as walks through an order-k chain whose states are the last k channels seen
//    (shorter tuples at the start of a path: a path A, B, C, D in order 2 visits (A), (A,B),
//    (B,C), (C,D)), entered from a start state and absorbed in "conversion" after a
//    converting path's last touch or in "null" otherwise. Consecutive repeats of a channel
//    are kept (they are self-loops in order 1). Transition probabilities are the observed
//    transition shares. P(convert) is the absorption probability into "conversion" from the
//    start state, found exactly by a sparse LU solve of (I - Q) x = r. Removing channel c
//    sends every transition into a state that contains c to "null";
//    removal_effect(c) = 1 - P(convert without c) / P(convert), clamped to [0, 1] (removal
//    can only lower P(convert); a value below 0 could only be rounding).
//    Value-weighted removal effects (markov_weight::value, the convention of the
//    ChannelAttribution package): a conversion reached from state s is worth v_s, the mean value
//    of the observed conversions whose last state was s. E[value] is the expected converted value
//    of a path started from the start state, the absorption "reward" x = Q x + r_v with r_v(s) =
//    P(s -> conversion) v_s = (value of the conversions leaving s) / (moves out of s), solved
//    exactly like P(convert); value_removal_effect(c) = 1 - E[value without c] / E[value],
//    clamped to [0, 1]. ChannelAttribution estimates the same quantities by simulating paths (it
//    draws each simulated conversion's value from the values observed after the same state);
//    here they are exact.
//
// 2. A general absorbing chain (the pipeline view of the funnel): transient states Q and
//    absorbing outcomes R; fundamental matrix N = (I - Q)^-1, absorption probabilities
//    B = N R and expected steps to absorption t = N 1.
//
// Eigen is used in the implementation (impl/markov.ipp) only; this header does not include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE

class path_set;

/// What a conversion is worth in the removal effect: `conversions` (each conversion counts 1,
/// the removal effect of P(convert)) or `value` (each conversion is worth the mean value of the
/// conversions observed after the same state; the removal effect of E[value]).
enum class markov_weight : std::uint8_t { conversions = 0, value = 1 };
/// "conversions" or "value".
std::string_view to_string(markov_weight w) noexcept;
/// Parses the names above; throws funnelkit::invalid_argument naming option 'markov_weight'.
markov_weight parse_markov_weight(std::string_view name);

struct markov_removal {
    int order = 1;
    /// Number of transient channel-tuple states of the chain (the start state excluded).
    std::size_t n_states = 0;
    /// P(convert) of the full chain; 0 when no path converts.
    double p_convert = 0.0;
    /// Per channel code: P(convert) with the channel removed (equal to p_convert for a
    /// channel that appears on no path), and the removal effect in [0, 1].
    std::vector<double> p_convert_without;
    std::vector<double> removal_effect;
    /// The weighting asked for. With markov_weight::value also: E[value] of the full chain (the
    /// expected converted value per path), per channel E[value] with the channel removed and the
    /// value-weighted removal effect in [0, 1]. The vectors are empty with `conversions`.
    markov_weight weight = markov_weight::conversions;
    double expected_value = 0.0;
    std::vector<double> expected_value_without;
    std::vector<double> value_removal_effect;
};

/// How the absorption probabilities are solved. `direct`: sparse LU of I - Q (exact up to
/// rounding). `iterative`: the fixed point x = Q x + r iterated from 0 (absorption
/// probabilities increase monotonically to the solution) until the remaining error is below
/// 1e-13, falling back to `direct` when that does not happen within 10,000 steps; much faster
/// for large order-2/3 chains, whose LU fills in. `automatic`: direct up to 500 states,
/// iterative above.
enum class markov_solver : std::uint8_t { automatic = 0, direct = 1, iterative = 2 };

/// Removal effects of an order-`order` chain (1 to 3) fitted to `paths`. Throws
/// funnelkit::invalid_argument for an order outside 1..3 or channel codes too large to pack
/// three to a state (>= 2^21 - 1).
markov_removal markov_removal_effects(const path_set& paths, int order,
                                      markov_solver solver = markov_solver::automatic,
                                      markov_weight weight = markov_weight::conversions);

struct absorbing_chain_solution {
    std::size_t n_transient = 0, n_absorbing = 0;
    /// B = N R, row-major n_transient x n_absorbing: probability of ending in each outcome.
    std::vector<double> absorption;
    /// t = N 1: expected number of steps before absorption from each transient state.
    std::vector<double> expected_steps;
    /// N = (I - Q)^-1, row-major n_transient x n_transient: expected visits.
    std::vector<double> fundamental;
};

/// Solves the absorbing chain given Q (row-major n_transient^2) and R (row-major
/// n_transient x n_absorbing). Throws funnelkit::invalid_argument when a size does not
/// match, an entry is negative or not finite, a row of [Q R] sums to more than 1 + 1e-9, or
/// some transient state can never be absorbed (I - Q singular).
absorbing_chain_solution solve_absorbing_chain(std::size_t n_transient, std::size_t n_absorbing,
                                               std::span<const double> q, std::span<const double> r);

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/markov.ipp"
#endif
