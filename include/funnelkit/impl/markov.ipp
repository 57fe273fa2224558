// Definitions for funnelkit/markov.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/markov.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>

#include <Eigen/Dense>
#include <Eigen/Sparse>
#include <Eigen/SparseLU>

#include "funnelkit/attribution.hpp"
#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::markov_impl {

// A state is a tuple of up to three channels, packed as 21-bit fields holding channel + 1
// (0 marks an unused field), most recent touch in the low bits.
inline constexpr int field_bits = 21;
inline constexpr std::uint64_t field_mask = (std::uint64_t{1} << field_bits) - 1;
inline constexpr std::uint32_t to_conv = 0xfffffffeu, to_null = 0xfffffffdu, from_start = 0xffffffffu;

inline bool holds(std::uint64_t key, std::uint64_t channel_plus_one) noexcept {
    for (; key; key >>= field_bits)
        if ((key & field_mask) == channel_plus_one) return true;
    return false;
}

using sparse = Eigen::SparseMatrix<double>;

struct fitted_chain {
    std::vector<std::uint64_t> keys;  // state index -> packed tuple
    // Transitions among transient states (probabilities), to conversion, and from the start.
    std::vector<std::uint32_t> from, to;
    std::vector<double> prob;
    std::vector<double> to_conversion;  // per state
    // Per state: converted value leaving it / moves out of it (P(s -> conversion) * mean value).
    std::vector<double> to_conversion_value;
    // The largest converted value of a path: E[value] from any state is at most this.
    double max_value = 0.0;
    std::vector<std::pair<std::uint32_t, double>> start;
};

inline fitted_chain fit(const path_set& paths, int order) {
    fitted_chain ch;
    std::unordered_map<std::uint64_t, std::uint32_t> index;
    std::vector<std::uint64_t> moves;  // (from << 32) | to
    std::vector<double> value_out;     // per state: value of the conversions that left it
    const std::uint64_t keep = order >= 3 ? (std::uint64_t{1} << (3 * field_bits)) - 1
                                          : (std::uint64_t{1} << (field_bits * order)) - 1;
    for (std::size_t p = 0; p < paths.n_paths(); ++p) {
        std::uint64_t key = 0;
        std::uint32_t prev = from_start;
        for (std::int32_t c : paths.channels(p)) {
            key = ((key << field_bits) | static_cast<std::uint64_t>(c + 1)) & keep;
            auto [it, fresh] = index.try_emplace(key, static_cast<std::uint32_t>(ch.keys.size()));
            if (fresh) ch.keys.push_back(key);
            moves.push_back((static_cast<std::uint64_t>(prev) << 32) | it->second);
            prev = it->second;
        }
        moves.push_back((static_cast<std::uint64_t>(prev) << 32) | (paths.converted(p) ? to_conv : to_null));
        if (paths.converted(p) && prev != from_start) {
            if (value_out.size() <= prev) value_out.resize(static_cast<std::size_t>(prev) + 1, 0.0);
            value_out[prev] += paths.value(p);
            ch.max_value = std::max(ch.max_value, paths.value(p));
        }
    }
    std::sort(moves.begin(), moves.end());
    const std::size_t n = ch.keys.size();
    std::vector<double> out_total(n, 0.0);
    double start_total = 0.0;
    for (std::uint64_t m : moves) {
        const auto f = static_cast<std::uint32_t>(m >> 32);
        if (f == from_start) start_total += 1.0;
        else out_total[f] += 1.0;
    }
    ch.to_conversion.assign(n, 0.0);
    ch.to_conversion_value.assign(n, 0.0);
    value_out.resize(n, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        if (out_total[i] > 0.0) ch.to_conversion_value[i] = value_out[i] / out_total[i];
    for (std::size_t i = 0; i < moves.size();) {
        std::size_t j = i;
        while (j < moves.size() && moves[j] == moves[i]) ++j;
        const auto f = static_cast<std::uint32_t>(moves[i] >> 32);
        const auto t = static_cast<std::uint32_t>(moves[i] & 0xffffffffu);
        const auto count = static_cast<double>(j - i);
        if (f == from_start) {
            ch.start.emplace_back(t, count / start_total);
        } else if (t == to_conv) {
            ch.to_conversion[f] = count / out_total[f];
        } else if (t != to_null) {
            ch.from.push_back(f);
            ch.to.push_back(t);
            ch.prob.push_back(count / out_total[f]);
        }
        i = j;
    }
    return ch;
}

// P(convert from the start) over the states with keep[i] != 0; transitions into dropped
// states are absorbed as non-conversion.
// Fixed point x = Q x + r from x = 0 over the kept states (Jacobi sweeps over an edge list).
// The iterates increase to the solution and the error shrinks like the increments do, so
// once the increment ratio rho settles, the remaining error is at most delta * rho / (1 - rho).
// `reward` is the per-state absorption reward (to_conversion, or to_conversion_value) and `cap`
// its largest value, which bounds the solution; the tolerance scales with it.
inline bool iterate(const fitted_chain& ch, const std::vector<char>& keep, const std::vector<double>& reward,
                    double cap, std::vector<double>& x) {
    const std::size_t n = ch.keys.size();
    x.assign(n, 0.0);
    std::vector<double> next(n);
    double prev_delta = 0.0;
    for (int it = 0; it < 10'000; ++it) {
        for (std::size_t i = 0; i < n; ++i) next[i] = keep[i] ? reward[i] : 0.0;
        for (std::size_t e = 0; e < ch.prob.size(); ++e)
            if (keep[ch.from[e]] && keep[ch.to[e]]) next[ch.from[e]] += ch.prob[e] * x[ch.to[e]];
        double delta = 0.0;
        for (std::size_t i = 0; i < n; ++i) delta = std::max(delta, std::abs(next[i] - x[i]));
        x.swap(next);
        if (delta == 0.0) return true;
        if (it > 2 && prev_delta > 0.0) {
            const double rho = delta / prev_delta;
            if (rho < 0.999 && delta * rho / (1.0 - rho) < 1e-13 * cap) return true;
        }
        prev_delta = delta;
    }
    return false;
}

// The expected absorption reward from the start state: P(convert) with reward = to_conversion
// (cap 1), E[value] with reward = to_conversion_value (cap: the largest converted value). Every
// solution lies in [0, cap].
inline double absorbed(const fitted_chain& ch, const std::vector<char>& keep, markov_solver solver,
                       const std::vector<double>& reward, double cap) {
    const std::size_t n = ch.keys.size();
    if (cap <= 0.0) return 0.0;
    if (solver == markov_solver::automatic) solver = n > 500 ? markov_solver::iterative : markov_solver::direct;
    if (solver == markov_solver::iterative) {
        std::vector<double> x;
        if (iterate(ch, keep, reward, cap, x)) {
            double p = 0.0;
            for (const auto& [j, pr] : ch.start)
                if (keep[j]) p += pr * std::clamp(x[j], 0.0, cap);
            return std::clamp(p, 0.0, cap);
        }
    }
    std::vector<int> sub(n, -1);
    int m = 0;
    for (std::size_t i = 0; i < n; ++i)
        if (keep[i]) sub[i] = m++;
    if (m == 0) return 0.0;
    std::vector<Eigen::Triplet<double>> trip;
    trip.reserve(ch.prob.size() + static_cast<std::size_t>(m));
    for (int i = 0; i < m; ++i) trip.emplace_back(i, i, 1.0);
    for (std::size_t e = 0; e < ch.prob.size(); ++e) {
        const int a = sub[ch.from[e]], b = sub[ch.to[e]];
        if (a >= 0 && b >= 0) trip.emplace_back(a, b, -ch.prob[e]);
    }
    sparse A(m, m);
    A.setFromTriplets(trip.begin(), trip.end());
    A.makeCompressed();
    Eigen::VectorXd r(m);
    for (std::size_t i = 0; i < n; ++i)
        if (sub[i] >= 0) r[sub[i]] = reward[i];
    Eigen::SparseLU<sparse, Eigen::COLAMDOrdering<int>> lu;
    lu.analyzePattern(A);
    lu.factorize(A);
    if (lu.info() != Eigen::Success)
        throw invalid_argument("markov attribution: the absorbing chain could not be solved (singular I - Q)");
    const Eigen::VectorXd x = lu.solve(r);
    double p = 0.0;
    for (const auto& [j, pr] : ch.start)
        if (sub[j] >= 0) p += pr * std::clamp(x[sub[j]], 0.0, cap);
    return std::clamp(p, 0.0, cap);
}

}  // namespace detail::markov_impl

FUNNELKIT_INLINE std::string_view to_string(markov_weight w) noexcept {
    return w == markov_weight::value ? "value" : "conversions";
}

FUNNELKIT_INLINE markov_weight parse_markov_weight(std::string_view name) {
    if (name == "conversions") return markov_weight::conversions;
    if (name == "value") return markov_weight::value;
    detail::throw_option("markov_weight", "'" + std::string(name) + "'", "is not a weighting (expected conversions or value)");
}

FUNNELKIT_INLINE markov_removal markov_removal_effects(const path_set& paths, int order, markov_solver solver,
                                                       markov_weight weight) {
    using namespace detail::markov_impl;
    if (order < 1 || order > 3)
        detail::throw_option("markov_order", std::to_string(order), "must be 1, 2 or 3");
    if (paths.n_channels() >= static_cast<std::int32_t>(field_mask))
        detail::throw_option("n_channels", std::to_string(paths.n_channels()),
                             "is too large for Markov attribution (at most 2097150 channels)");
    markov_removal out;
    out.order = order;
    const auto nc = static_cast<std::size_t>(paths.n_channels());
    out.p_convert_without.assign(nc, 0.0);
    out.removal_effect.assign(nc, 0.0);
    const fitted_chain ch = fit(paths, order);
    out.n_states = ch.keys.size();
    std::vector<char> keep(ch.keys.size(), 1);
    out.weight = weight;
    const bool by_value = weight == markov_weight::value;
    out.p_convert = absorbed(ch, keep, solver, ch.to_conversion, 1.0);
    if (by_value) {
        out.expected_value = absorbed(ch, keep, solver, ch.to_conversion_value, ch.max_value);
        out.expected_value_without.assign(nc, out.expected_value);
        out.value_removal_effect.assign(nc, 0.0);
    }
    std::vector<char> present(nc, 0);
    for (std::uint64_t k : ch.keys)
        for (std::uint64_t key = k; key; key >>= field_bits) present[(key & field_mask) - 1] = 1;
    for (std::size_t c = 0; c < nc; ++c) {
        if (!present[c] || out.p_convert <= 0.0) {
            out.p_convert_without[c] = out.p_convert;
            continue;
        }
        for (std::size_t i = 0; i < ch.keys.size(); ++i) keep[i] = holds(ch.keys[i], c + 1) ? 0 : 1;
        const double pw = std::min(absorbed(ch, keep, solver, ch.to_conversion, 1.0), out.p_convert);
        out.p_convert_without[c] = pw;
        out.removal_effect[c] = std::clamp(1.0 - pw / out.p_convert, 0.0, 1.0);
        if (by_value && out.expected_value > 0.0) {
            const double vw =
                std::min(absorbed(ch, keep, solver, ch.to_conversion_value, ch.max_value), out.expected_value);
            out.expected_value_without[c] = vw;
            out.value_removal_effect[c] = std::clamp(1.0 - vw / out.expected_value, 0.0, 1.0);
        }
    }
    return out;
}

FUNNELKIT_INLINE absorbing_chain_solution solve_absorbing_chain(std::size_t nt, std::size_t na, std::span<const double> q,
                                                                std::span<const double> r) {
    if (q.size() != nt * nt) detail::throw_length("q", q.size(), "n_transient^2", nt * nt);
    if (r.size() != nt * na) detail::throw_length("r", r.size(), "n_transient*n_absorbing", nt * na);
    for (std::size_t i = 0; i < q.size(); ++i)
        if (!(q[i] >= 0.0) || std::isinf(q[i])) detail::throw_at_row("q", i, detail::to_text(q[i]), "is not a probability");
    for (std::size_t i = 0; i < r.size(); ++i)
        if (!(r[i] >= 0.0) || std::isinf(r[i])) detail::throw_at_row("r", i, detail::to_text(r[i]), "is not a probability");
    for (std::size_t i = 0; i < nt; ++i) {
        double s = 0.0;
        for (std::size_t j = 0; j < nt; ++j) s += q[i * nt + j];
        for (std::size_t j = 0; j < na; ++j) s += r[i * na + j];
        if (s > 1.0 + 1e-9) detail::throw_at_row("q", i, detail::to_text(s), "is the sum of a row of [Q R], above 1");
    }
    absorbing_chain_solution out;
    out.n_transient = nt;
    out.n_absorbing = na;
    if (nt == 0) return out;
    const auto n = static_cast<Eigen::Index>(nt), a = static_cast<Eigen::Index>(na);
    Eigen::MatrixXd A = Eigen::MatrixXd::Identity(n, n);
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < n; ++j) A(i, j) -= q[static_cast<std::size_t>(i * n + j)];
    Eigen::FullPivLU<Eigen::MatrixXd> lu(A);
    if (!lu.isInvertible())
        throw invalid_argument("solve_absorbing_chain: some transient state is never absorbed (I - Q is singular)");
    const Eigen::MatrixXd N = lu.inverse();
    Eigen::MatrixXd R(n, a);
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < a; ++j) R(i, j) = r[static_cast<std::size_t>(i * a + j)];
    const Eigen::MatrixXd B = N * R;
    const Eigen::VectorXd t = N * Eigen::VectorXd::Ones(n);
    out.absorption.resize(nt * na);
    out.fundamental.resize(nt * nt);
    out.expected_steps.resize(nt);
    for (Eigen::Index i = 0; i < n; ++i) {
        for (Eigen::Index j = 0; j < a; ++j) out.absorption[static_cast<std::size_t>(i * a + j)] = B(i, j);
        for (Eigen::Index j = 0; j < n; ++j) out.fundamental[static_cast<std::size_t>(i * n + j)] = N(i, j);
        out.expected_steps[static_cast<std::size_t>(i)] = t[i];
    }
    return out;
}

FUNNELKIT_END_NAMESPACE
