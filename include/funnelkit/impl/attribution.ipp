// Definitions for funnelkit/attribution.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/attribution.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <string>
#include <tuple>

#include "funnelkit/detail/random.hpp"
#include "funnelkit/detail/state_merge.hpp"
#include "funnelkit/detail/time_math.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/grouping.hpp"
#include "funnelkit/markov.hpp"
#include "funnelkit/serialize.hpp"

FUNNELKIT_BEGIN_NAMESPACE

// ---------------------------------------------------------------------------------------------
// path_set

FUNNELKIT_INLINE path_set::path_set(const touch_columns& t, const outcome_columns& o, std::int32_t n_channels,
                                    unsigned threads) {
    const std::size_t n = t.size();
    if (t.time.size() != n) detail::throw_length("time", t.time.size(), "path", n);
    if (t.channel.size() != n) detail::throw_length("channel", t.channel.size(), "path", n);
    if (!t.milestone.empty() && t.milestone.size() != n)
        detail::throw_length("milestone", t.milestone.size(), "path", n);
    const std::size_t m = o.size();
    if (o.converted.size() != m) detail::throw_length("converted", o.converted.size(), "outcome path", m);
    if (!o.value.empty() && o.value.size() != m) detail::throw_length("value", o.value.size(), "outcome path", m);
    if (!o.conversion_time.empty() && o.conversion_time.size() != m)
        detail::throw_length("conversion_time", o.conversion_time.size(), "outcome path", m);
    if (n_channels < 0) detail::throw_option("n_channels", std::to_string(n_channels), "must be >= 0");
    if (threads == 0) detail::throw_option("threads", "0", "must be >= 1");

    std::int32_t max_channel = -1;
    for (std::size_t i = 0; i < n; ++i) {
        const std::int32_t c = t.channel[i];
        if (c < -1 || (n_channels > 0 && c >= n_channels)) [[unlikely]]
            detail::throw_at_row("channel", i, std::to_string(c),
                                 n_channels > 0 ? "is not a channel code (expected -1 for a null touch or 0.." +
                                                      std::to_string(n_channels - 1) + ")"
                                                : std::string("is not a channel code (expected -1 for a null touch or >= 0)"));
        max_channel = std::max(max_channel, c);
    }
    for (std::size_t i = 0; i < t.milestone.size(); ++i)
        if (t.milestone[i] > 2) [[unlikely]]
            detail::throw_at_row("milestone", i, std::to_string(t.milestone[i]),
                                 "is not a milestone code (expected 0 none, 1 lead created, 2 opportunity created)");
    for (std::size_t i = 0; i < m; ++i) {
        if (o.converted[i] > 1) [[unlikely]]
            detail::throw_at_row("converted", i, std::to_string(o.converted[i]), "must be 0 or 1");
        if (!o.value.empty()) {
            const double v = o.value[i];
            if (!(v >= 0.0) || std::isinf(v)) [[unlikely]]
                detail::throw_at_row("value", i, detail::to_text(v), "is not a finite value >= 0");
        }
    }
    n_channels_ = n_channels > 0 ? n_channels : max_channel + 1;
    has_milestones_ = !t.milestone.empty();

    // Outcome rows by path id, for the lookups of the grouped paths (repeated ids rejected).
    std::vector<std::pair<std::int64_t, std::uint32_t>> outcome_of(m);
    for (std::size_t i = 0; i < m; ++i) outcome_of[i] = {o.path[i], static_cast<std::uint32_t>(i)};
    std::sort(outcome_of.begin(), outcome_of.end());
    // The first row that repeats an earlier row's id is the one reported.
    std::size_t repeat = m;
    for (std::size_t i = 1; i < m; ++i)
        if (outcome_of[i].first == outcome_of[i - 1].first && (i < 2 || outcome_of[i - 2].first != outcome_of[i].first))
            repeat = std::min<std::size_t>(repeat, outcome_of[i].second);
    if (repeat < m) [[unlikely]]
        detail::throw_at_row("outcome path", repeat, std::to_string(o.path[repeat]),
                             "repeats a path id (each path has one outcome row)");
    constexpr std::uint32_t no_outcome = 0xffffffffu;
    const auto outcome_row = [&](std::int64_t id) {
        const auto it = std::lower_bound(outcome_of.begin(), outcome_of.end(), std::pair{id, std::uint32_t{0}});
        return it != outcome_of.end() && it->first == id ? it->second : no_outcome;
    };

    // Non-null touches grouped by path through the grouping primitive, in time order; touches
    // tied in time are ordered by channel code, then milestone, so that a path depends on its
    // touches as a set, not on the order of the rows. Each thread keeps the paths it built.
    struct touch {
        std::int32_t channel;
        std::uint8_t milestone;
    };
    struct part {
        std::vector<std::int32_t> channel;
        std::vector<std::int64_t> time;
        std::vector<std::uint8_t> milestone;
        std::vector<std::size_t> end;       // end of each path's touches
        std::vector<std::int64_t> id;
        std::vector<std::uint32_t> outcome;  // outcome row, or no_outcome
    };
    const bool has_ms = !t.milestone.empty();
    const auto* tch = t.channel.data();
    const auto* tms = has_ms ? t.milestone.data() : nullptr;
    std::vector<part> parts(std::max(1u, threads));
    grouping_options go;
    go.threads = std::max(1u, threads);
    go.visit_dropped = false;
    group_by_entity<touch>(
        t.path, t.time,
        [&](std::size_t i, touch& x) {
            x = {tch[i], has_ms ? tms[i] : std::uint8_t{0}};
            return tch[i] >= 0;
        },
        [&](unsigned th, std::int64_t id, std::span<const grouped_row<touch>> rows) {
            const std::uint32_t k = outcome_row(id);
            std::size_t keep = rows.size();
            if (k != no_outcome && o.converted[k] && !o.conversion_time.empty()) {
                // Touches after the conversion do not count.
                const std::int64_t ct = o.conversion_time[k];
                keep = static_cast<std::size_t>(
                    std::upper_bound(rows.begin(), rows.end(), ct, [](std::int64_t c, const auto& r) { return c < r.time; }) -
                    rows.begin());
            }
            if (keep == 0) return;
            part& p = parts[th];
            for (std::size_t j = 0; j < keep; ++j) {
                p.channel.push_back(rows[j].payload.channel);
                p.time.push_back(rows[j].time);
                if (has_ms) p.milestone.push_back(rows[j].payload.milestone);
            }
            p.end.push_back(p.channel.size());
            p.id.push_back(id);
            p.outcome.push_back(k);
        },
        go, [](const touch& a, const touch& b) { return a.channel < b.channel || (a.channel == b.channel && a.milestone < b.milestone); });

    // Layout: paths with an outcome row in the order of those rows, then the other paths by
    // ascending id.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> by_outcome(m, {no_outcome, 0});  // (part, index)
    std::vector<std::tuple<std::int64_t, std::uint32_t, std::uint32_t>> others;
    std::size_t touches = 0;
    for (std::uint32_t th = 0; th < parts.size(); ++th) {
        touches += parts[th].channel.size();
        for (std::uint32_t i = 0; i < parts[th].id.size(); ++i) {
            const std::uint32_t k = parts[th].outcome[i];
            if (k != no_outcome) by_outcome[k] = {th, i};
            else others.emplace_back(parts[th].id[i], th, i);
        }
    }
    std::sort(others.begin(), others.end());
    channel_.reserve(touches);
    time_.reserve(touches);
    if (has_milestones_) milestone_.reserve(touches);
    const auto emit = [&](std::uint32_t th, std::uint32_t i, std::uint32_t k) {
        const part& p = parts[th];
        const std::size_t b = i == 0 ? 0 : p.end[i - 1], e = p.end[i];
        channel_.insert(channel_.end(), p.channel.begin() + static_cast<std::ptrdiff_t>(b),
                        p.channel.begin() + static_cast<std::ptrdiff_t>(e));
        time_.insert(time_.end(), p.time.begin() + static_cast<std::ptrdiff_t>(b), p.time.begin() + static_cast<std::ptrdiff_t>(e));
        if (has_milestones_)
            milestone_.insert(milestone_.end(), p.milestone.begin() + static_cast<std::ptrdiff_t>(b),
                              p.milestone.begin() + static_cast<std::ptrdiff_t>(e));
        offsets_.push_back(channel_.size());
        ids_.push_back(p.id[i]);
        const bool is_conv = k != no_outcome && o.converted[k] != 0;
        converted_.push_back(is_conv ? 1 : 0);
        value_.push_back(is_conv ? (o.value.empty() ? 1.0 : o.value[k]) : 0.0);
        conv_time_.push_back(is_conv && !o.conversion_time.empty() ? o.conversion_time[k] : time_.back());
    };
    for (std::uint32_t k = 0; k < m; ++k) {
        if (by_outcome[k].first != no_outcome) {
            emit(by_outcome[k].first, by_outcome[k].second, k);
        } else if (o.converted[k]) {
            const double val = o.value.empty() ? 1.0 : o.value[k];
            unattributed_conversions_ += 1.0;
            unattributed_value_ += val;
            unattributed_values_.push_back(val);
        }
    }
    for (const auto& [id, th, i] : others) emit(th, i, no_outcome);
}

// ---------------------------------------------------------------------------------------------
// names

namespace detail::attribution_impl {
inline constexpr std::array<std::string_view, 9> model_names{"first_touch", "last_touch", "linear",   "u_shaped", "w_shaped",
                                                      "time_decay",  "position",   "markov", "shapley"};
}

FUNNELKIT_INLINE std::string_view to_string(attribution_model m) noexcept {
    using namespace detail::attribution_impl;
    const auto i = static_cast<std::size_t>(m);
    return i < model_names.size() ? model_names[i] : std::string_view("unknown");
}

FUNNELKIT_INLINE attribution_model parse_attribution_model(std::string_view name) {
    using namespace detail::attribution_impl;
    for (std::size_t i = 0; i < model_names.size(); ++i)
        if (model_names[i] == name) return static_cast<attribution_model>(i);
    detail::throw_option("model", std::string(name),
                         "is not an attribution model (expected first_touch, last_touch, linear, u_shaped, "
                         "w_shaped, time_decay, position, markov or shapley)");
}

// ---------------------------------------------------------------------------------------------
// rule-based models

namespace detail::attribution_impl {

inline void check_weight(std::string_view name, double w) {
    if (!(w >= 0.0) || std::isinf(w)) detail::throw_option(name, detail::to_text(w), "must be a finite weight >= 0");
}

// Head / middle / tail position weights for a path of n touches, normalised to sum 1; equal
// weights when every position the path has carries weight 0.
inline void position_weights(std::size_t n, std::span<const double> head, std::span<const double> tail, double middle,
                             std::vector<double>& w) {
    w.assign(n, 0.0);
    const std::size_t nh = std::min(head.size(), n);
    for (std::size_t i = 0; i < nh; ++i) w[i] = head[i];
    std::size_t lo = nh, hi = n;  // unclaimed positions [lo, hi)
    for (std::size_t j = 0; j < tail.size() && hi > lo; ++j) w[--hi] = tail[j];
    double total = 0.0;
    if (hi > lo && middle > 0.0) {
        const double each = middle / static_cast<double>(hi - lo);
        for (std::size_t i = lo; i < hi; ++i) w[i] = each;
    }
    for (double x : w) total += x;
    if (total > 0.0) {
        for (double& x : w) x /= total;
    } else {
        for (double& x : w) x = 1.0 / static_cast<double>(n);
    }
}

inline void w_shape_weights(std::span<const std::uint8_t> ms, const attribution_options& op, std::vector<double>& w) {
    const std::size_t n = ms.size();
    std::size_t lead = n, opp = n;
    for (std::size_t i = 0; i < n; ++i) {
        if (lead == n && ms[i] == static_cast<std::uint8_t>(touch_milestone::lead_created)) lead = i;
        if (opp == n && ms[i] == static_cast<std::uint8_t>(touch_milestone::opportunity_created)) opp = i;
    }
    if (lead == n) lead = 0;
    if (opp == n) opp = n - 1;
    w.assign(n, 0.0);
    w[0] += op.w_first;
    w[lead] += op.w_lead;
    w[opp] += op.w_opportunity;
    std::size_t rest = 0;
    for (std::size_t i = 0; i < n; ++i) rest += (i != 0 && i != lead && i != opp) ? 1 : 0;
    if (rest > 0)
        for (std::size_t i = 0; i < n; ++i)
            if (i != 0 && i != lead && i != opp) w[i] = op.w_rest / static_cast<double>(rest);
    double total = 0.0;
    for (double x : w) total += x;
    if (total > 0.0) {
        for (double& x : w) x /= total;
    } else {
        for (double& x : w) x = 1.0 / static_cast<double>(n);
    }
}

inline void time_decay_weights(std::span<const std::int64_t> times, double half_life, std::vector<double>& w) {
    const std::size_t n = times.size();
    w.resize(n);
    // Ages relative to the youngest touch keep the largest weight at 1: no underflow to 0/0.
    // age - youngest age = (conversion - t) - (conversion - t_max) = t_max - t, an exact
    // integer difference rounded once, so times near the int64 limits keep their spacing.
    const std::int64_t youngest = *std::max_element(times.begin(), times.end());
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        w[i] = std::exp2(-detail::elapsed(times[i], youngest) / half_life);
        total += w[i];
    }
    for (double& x : w) x /= total;
}

inline void validate(const path_set& paths, const attribution_options& op) {
    switch (op.model) {
    case attribution_model::u_shaped:
        check_weight("u_first", op.u_first);
        check_weight("u_middle", op.u_middle);
        check_weight("u_last", op.u_last);
        if (op.u_first + op.u_middle + op.u_last <= 0.0)
            detail::throw_option("u_first+u_middle+u_last", "0", "must be > 0");
        break;
    case attribution_model::w_shaped:
        check_weight("w_first", op.w_first);
        check_weight("w_lead", op.w_lead);
        check_weight("w_opportunity", op.w_opportunity);
        check_weight("w_rest", op.w_rest);
        if (op.w_first + op.w_lead + op.w_opportunity + op.w_rest <= 0.0)
            detail::throw_option("w_first+w_lead+w_opportunity+w_rest", "0", "must be > 0");
        if (!paths.has_milestones() && paths.n_paths() > 0)
            detail::throw_option("model", "w_shaped", "needs the 'milestone' touch column");
        break;
    case attribution_model::time_decay:
        if (!(op.half_life > 0.0) || std::isinf(op.half_life))
            detail::throw_option("half_life", detail::to_text(op.half_life), "must be finite and > 0");
        break;
    case attribution_model::position: {
        double total = op.middle;
        check_weight("middle", op.middle);
        for (double x : op.head) check_weight("head", x), total += x;
        for (double x : op.tail) check_weight("tail", x), total += x;
        if (!(total > 0.0)) detail::throw_option("head+middle+tail", "0", "must be > 0");
        break;
    }
    case attribution_model::markov:
        if (op.markov_order < 1 || op.markov_order > 3)
            detail::throw_option("markov_order", std::to_string(op.markov_order), "must be 1, 2 or 3");
        break;
    case attribution_model::shapley:
        if (op.shapley_exact_max < 0 || op.shapley_exact_max > 20)
            detail::throw_option("shapley_exact_max", std::to_string(op.shapley_exact_max), "must be in 0..20");
        if (op.shapley_samples < 1)
            detail::throw_option("shapley_samples", std::to_string(op.shapley_samples), "must be >= 1");
        break;
    default: break;
    }
}

// ---------------------------------------------------------------------------------------------
// Shapley values

// Distinct channel sets with their path count, conversions and value, on dense channel
// indices 0..k-1 of the channels present on any path.
struct channel_sets {
    std::vector<std::int32_t> present;           // dense -> channel code
    std::vector<std::size_t> offsets{0};         // set s = members[offsets[s], offsets[s+1])
    std::vector<std::uint32_t> members;
    std::vector<double> n_paths, conversions, value;
};

// The distinct channel sets of a state's table (keys: sorted channel codes), on dense channel
// indices in ascending channel code; the table is ordered, so the sets, and so the exact and
// the sampled Shapley values, depend on the paths as a set, not on the order of the rows or on
// how they were partitioned.
inline channel_sets sets_of(const std::map<std::vector<std::int32_t>, attribution_path_totals>& table,
                            std::int32_t n_channels) {
    channel_sets out;
    const auto nc = static_cast<std::size_t>(n_channels);
    std::vector<char> used(nc, 0);
    for (const auto& [key, t] : table)
        for (std::int32_t c : key) used[static_cast<std::size_t>(c)] = 1;
    std::vector<std::int32_t> dense(nc, -1);
    for (std::size_t c = 0; c < nc; ++c)
        if (used[c]) {
            dense[c] = static_cast<std::int32_t>(out.present.size());
            out.present.push_back(static_cast<std::int32_t>(c));
        }
    for (const auto& [key, t] : table) {
        for (std::int32_t c : key) out.members.push_back(static_cast<std::uint32_t>(dense[static_cast<std::size_t>(c)]));
        out.offsets.push_back(out.members.size());
        out.n_paths.push_back(static_cast<double>(t.paths));
        out.conversions.push_back(static_cast<double>(t.conversions));
        out.value.push_back(t.value.value());
    }
    return out;
}

// Game value from the aggregates of the paths covered by a coalition.
struct coverage {
    double n = 0, conv = 0, val = 0;
};
inline std::array<double, 2> game_value(shapley_game g, const coverage& c) {
    if (g == shapley_game::covered_value) return {c.conv, c.val};
    if (c.n <= 0.0) return {0.0, 0.0};
    return {c.conv / c.n, c.val / c.n};
}

// phi[0] for conversions, phi[1] for value, per dense channel.
inline std::array<std::vector<double>, 2> shapley_exact(const channel_sets& cs, shapley_game game) {
    const std::size_t k = cs.present.size();
    const std::size_t full = std::size_t{1} << k;
    std::vector<coverage> f(full);
    for (std::size_t s = 0; s < cs.n_paths.size(); ++s) {
        std::size_t mask = 0;
        for (std::size_t j = cs.offsets[s]; j < cs.offsets[s + 1]; ++j) mask |= std::size_t{1} << cs.members[j];
        f[mask].n += cs.n_paths[s];
        f[mask].conv += cs.conversions[s];
        f[mask].val += cs.value[s];
    }
    // Subset sums (zeta transform): f[S] becomes the aggregate over all T subset of S.
    for (std::size_t i = 0; i < k; ++i)
        for (std::size_t s = 0; s < full; ++s)
            if (s & (std::size_t{1} << i)) {
                const coverage& a = f[s ^ (std::size_t{1} << i)];
                f[s].n += a.n;
                f[s].conv += a.conv;
                f[s].val += a.val;
            }
    // Weight of a coalition of size s not holding i: s! (k - s - 1)! / k!.
    std::vector<double> weight(k, 0.0);
    for (std::size_t s = 0; s < k; ++s) {
        double w = 1.0 / static_cast<double>(k);
        // 1 / (k * C(k-1, s))
        double binom = 1.0;
        for (std::size_t j = 1; j <= s; ++j) binom = binom * static_cast<double>(k - 1 - s + j) / static_cast<double>(j);
        weight[s] = w / binom;
    }
    std::array<std::vector<double>, 2> phi{std::vector<double>(k, 0.0), std::vector<double>(k, 0.0)};
    for (std::size_t s = 0; s < full; ++s) {
        const auto vs = game_value(game, f[s]);
        const auto size = static_cast<std::size_t>(std::popcount(s));
        for (std::size_t i = 0; i < k; ++i) {
            if (s & (std::size_t{1} << i)) continue;
            const auto vsi = game_value(game, f[s | (std::size_t{1} << i)]);
            phi[0][i] += weight[size] * (vsi[0] - vs[0]);
            phi[1][i] += weight[size] * (vsi[1] - vs[1]);
        }
    }
    return phi;
}

// Monte Carlo over random orderings: a channel set joins the coalition when its last member
// (in the ordering) does, so each ordering costs one pass over the distinct sets.
inline std::array<std::vector<double>, 2> shapley_sampled(const channel_sets& cs, shapley_game game, std::int64_t samples,
                                                          std::uint64_t seed) {
    const std::size_t k = cs.present.size();
    detail::rng g(seed, 0x5ba91e7);
    std::vector<std::uint32_t> perm(k), rank(k);
    std::iota(perm.begin(), perm.end(), 0u);
    std::vector<coverage> at(k);
    std::array<std::vector<double>, 2> phi{std::vector<double>(k, 0.0), std::vector<double>(k, 0.0)};
    for (std::int64_t it = 0; it < samples; ++it) {
        for (std::size_t i = k; i > 1; --i) std::swap(perm[i - 1], perm[g.below(i)]);
        for (std::size_t i = 0; i < k; ++i) rank[perm[i]] = static_cast<std::uint32_t>(i);
        std::fill(at.begin(), at.end(), coverage{});
        for (std::size_t s = 0; s < cs.n_paths.size(); ++s) {
            std::uint32_t pos = 0;
            for (std::size_t j = cs.offsets[s]; j < cs.offsets[s + 1]; ++j) pos = std::max(pos, rank[cs.members[j]]);
            at[pos].n += cs.n_paths[s];
            at[pos].conv += cs.conversions[s];
            at[pos].val += cs.value[s];
        }
        coverage cum;
        std::array<double, 2> prev{0.0, 0.0};
        for (std::size_t i = 0; i < k; ++i) {
            cum.n += at[i].n;
            cum.conv += at[i].conv;
            cum.val += at[i].val;
            const auto v = game_value(game, cum);
            phi[0][perm[i]] += v[0] - prev[0];
            phi[1][perm[i]] += v[1] - prev[1];
            prev = v;
        }
    }
    for (auto& v : phi)
        for (double& x : v) x /= static_cast<double>(samples);
    return phi;
}

// The value_rate game over the state's channel sets.
inline void shapley_rate(const channel_sets& cs, std::size_t nc, const attribution_options& op, attribution_result& out) {
    out.score.assign(nc, 0.0);
    const std::size_t k = cs.present.size();
    if (k == 0) return;
    out.exact = k <= static_cast<std::size_t>(op.shapley_exact_max);
    const auto phi = out.exact ? shapley_exact(cs, op.game) : shapley_sampled(cs, op.game, op.shapley_samples, op.seed);
    coverage all;
    for (std::size_t s = 0; s < cs.n_paths.size(); ++s) {
        all.n += cs.n_paths[s];
        all.conv += cs.conversions[s];
        all.val += cs.value[s];
    }
    const auto v_all = game_value(op.game, all);
    out.base = v_all[1];
    for (std::size_t i = 0; i < k; ++i) out.score[static_cast<std::size_t>(cs.present[i])] = phi[1][i];
    // Scale so the credits sum to the totals; the Shapley values sum to v(all) (efficiency).
    const std::array<double, 2> totals{out.total_conversions, out.total_value};
    for (int d = 0; d < 2; ++d) {
        if (!(v_all[static_cast<std::size_t>(d)] > 0.0)) continue;
        double sum = 0.0;
        for (double x : phi[static_cast<std::size_t>(d)]) sum += x;
        // Sampled values satisfy efficiency exactly per ordering, so sum == v_all up to rounding.
        const double scale = totals[static_cast<std::size_t>(d)] / sum;
        auto& dst = d == 0 ? out.conversions : out.value;
        for (std::size_t i = 0; i < k; ++i)
            dst[static_cast<std::size_t>(cs.present[i])] = phi[static_cast<std::size_t>(d)][i] * scale;
    }
}

// ---------------------------------------------------------------------------------------------
// the state

inline constexpr char state_magic[] = "FKAT";
inline constexpr std::uint16_t state_format = 2;
inline constexpr std::string_view merge_what = "cannot merge attribution_state";

// Models whose state is a table of distinct paths (sequences for markov, channel sets for the
// value_rate game) rather than credits per channel.
inline bool uses_table(const attribution_options& op) {
    return op.model == attribution_model::markov ||
           (op.model == attribution_model::shapley && op.game == shapley_game::value_rate);
}

inline std::string list_text(const std::vector<double>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + detail::to_text(v[i]);
    return s + "]";
}

// The first option that differs, as (name, mine, theirs); empty name when none does.
inline std::array<std::string, 3> option_difference(const attribution_options& a, const attribution_options& b) {
    auto num = [](double x) { return detail::to_text(x); };
    if (a.model != b.model) return {"model", std::string(to_string(a.model)), std::string(to_string(b.model))};
    const std::vector<double> ua{a.u_first, a.u_middle, a.u_last}, ub{b.u_first, b.u_middle, b.u_last};
    if (ua != ub) return {"u_weights", list_text(ua), list_text(ub)};
    const std::vector<double> wa{a.w_first, a.w_lead, a.w_opportunity, a.w_rest},
        wb{b.w_first, b.w_lead, b.w_opportunity, b.w_rest};
    if (wa != wb) return {"w_weights", list_text(wa), list_text(wb)};
    if (a.half_life != b.half_life) return {"half_life", num(a.half_life), num(b.half_life)};
    if (a.head != b.head) return {"head", list_text(a.head), list_text(b.head)};
    if (a.tail != b.tail) return {"tail", list_text(a.tail), list_text(b.tail)};
    if (a.middle != b.middle) return {"middle", num(a.middle), num(b.middle)};
    if (a.markov_order != b.markov_order)
        return {"markov_order", std::to_string(a.markov_order), std::to_string(b.markov_order)};
    if (a.markov_weighting != b.markov_weighting)
        return {"markov_weight", std::string(to_string(a.markov_weighting)), std::string(to_string(b.markov_weighting))};
    if (a.game != b.game)
        return {"shapley_game", a.game == shapley_game::covered_value ? "covered_value" : "value_rate",
                b.game == shapley_game::covered_value ? "covered_value" : "value_rate"};
    if (a.shapley_exact_max != b.shapley_exact_max)
        return {"shapley_exact_max", std::to_string(a.shapley_exact_max), std::to_string(b.shapley_exact_max)};
    if (a.shapley_samples != b.shapley_samples)
        return {"shapley_samples", std::to_string(a.shapley_samples), std::to_string(b.shapley_samples)};
    if (a.seed != b.seed) return {"seed", std::to_string(a.seed), std::to_string(b.seed)};
    return {};
}

inline void add_totals(attribution_path_totals& a, const attribution_path_totals& b, std::string_view what) {
    attribution_path_totals r = a;
    r.paths = add_count(a.paths, b.paths, what);
    r.conversions = add_count(a.conversions, b.conversions, what);
    r.value.merge(b.value, what);
    a = std::move(r);
}

}  // namespace detail::attribution_impl

FUNNELKIT_INLINE attribution_state::attribution_state(const attribution_options& options, std::int32_t n_channels)
    : recorded_(true), options_(options), n_channels_(n_channels) {
    using namespace detail::attribution_impl;
    if (n_channels < 0) detail::throw_option("n_channels", std::to_string(n_channels), "must be >= 0");
    validate(path_set({}, {}), options_);
    conversions_.resize(static_cast<std::size_t>(n_channels));
    value_.resize(static_cast<std::size_t>(n_channels));
}

FUNNELKIT_INLINE void attribution_state::add(const path_set& paths) {
    using namespace detail::attribution_impl;
    constexpr std::string_view what = "attribution_state::add";
    validate(paths, options_);
    const attribution_options& op = options_;
    attribution_state next = *this;
    if (paths.n_channels() > next.n_channels_) {
        next.n_channels_ = paths.n_channels();
        next.conversions_.resize(static_cast<std::size_t>(next.n_channels_));
        next.value_.resize(static_cast<std::size_t>(next.n_channels_));
    }
    next.paths_ = detail::add_count(next.paths_, static_cast<std::int64_t>(paths.n_paths()), what);
    next.unattributed_conversions_ = detail::add_count(
        next.unattributed_conversions_, static_cast<std::int64_t>(paths.unattributed_values().size()), what);
    for (double v : paths.unattributed_values()) next.unattributed_value_.add(v, what);
    const bool table = uses_table(op);
    const std::array<double, 1> u_head{op.u_first}, u_tail{op.u_last};
    std::vector<double> w;
    std::vector<std::int32_t> key;
    for (std::size_t p = 0; p < paths.n_paths(); ++p) {
        const bool conv = paths.converted(p);
        const double v = paths.value(p);
        if (conv) {
            next.converting_paths_ = detail::add_count(next.converting_paths_, 1, what);
            next.total_value_.add(v, what);
        }
        const auto ch = paths.channels(p);
        if (table) {
            key.assign(ch.begin(), ch.end());
            if (op.model == attribution_model::shapley) {
                std::sort(key.begin(), key.end());
                key.erase(std::unique(key.begin(), key.end()), key.end());
            }
            attribution_path_totals one;
            one.paths = 1;
            if (conv) {
                one.conversions = 1;
                one.value.add(v, what);
            }
            add_totals(next.table_[key], one, what);
            continue;
        }
        if (!conv) continue;
        const std::size_t n = ch.size();
        if (op.model == attribution_model::shapley) {
            // covered_value: a sum of unanimity games, one per converting path; each path gives
            // its conversion and value in equal parts to its distinct channels.
            key.assign(ch.begin(), ch.end());
            std::sort(key.begin(), key.end());
            key.erase(std::unique(key.begin(), key.end()), key.end());
            const double share = 1.0 / static_cast<double>(key.size());
            for (std::int32_t c : key) {
                next.conversions_[static_cast<std::size_t>(c)].add(share, what);
                next.value_[static_cast<std::size_t>(c)].add(share * v, what);
            }
            continue;
        }
        switch (op.model) {
        case attribution_model::first_touch: w.assign(n, 0.0), w.front() = 1.0; break;
        case attribution_model::last_touch: w.assign(n, 0.0), w.back() = 1.0; break;
        case attribution_model::linear: w.assign(n, 1.0 / static_cast<double>(n)); break;
        case attribution_model::u_shaped: position_weights(n, u_head, u_tail, op.u_middle, w); break;
        case attribution_model::position: position_weights(n, op.head, op.tail, op.middle, w); break;
        case attribution_model::w_shaped: w_shape_weights(paths.milestones(p), op, w); break;
        case attribution_model::time_decay: time_decay_weights(paths.times(p), op.half_life, w); break;
        default: break;
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (w[i] == 0.0) continue;
            const auto c = static_cast<std::size_t>(ch[i]);
            next.conversions_[c].add(w[i], what);
            next.value_[c].add(w[i] * v, what);
        }
    }
    *this = std::move(next);
}

FUNNELKIT_INLINE void attribution_state::merge(const attribution_state& other) {
    using namespace detail::attribution_impl;
    if (&other == this) {
        const attribution_state copy = other;
        merge(copy);
        return;
    }
    if (recorded_ && other.recorded_) {
        const auto diff = option_difference(options_, other.options_);
        if (!diff[0].empty()) detail::throw_incompatible(merge_what, diff[0], diff[1], diff[2]);
    }
    attribution_state next = *this;
    if (!recorded_ && other.recorded_) next.recorded_ = true, next.options_ = other.options_;
    if (other.n_channels_ > next.n_channels_) {
        next.n_channels_ = other.n_channels_;
        next.conversions_.resize(static_cast<std::size_t>(next.n_channels_));
        next.value_.resize(static_cast<std::size_t>(next.n_channels_));
    }
    next.paths_ = detail::add_count(next.paths_, other.paths_, merge_what);
    next.converting_paths_ = detail::add_count(next.converting_paths_, other.converting_paths_, merge_what);
    next.unattributed_conversions_ =
        detail::add_count(next.unattributed_conversions_, other.unattributed_conversions_, merge_what);
    next.total_value_.merge(other.total_value_, merge_what);
    next.unattributed_value_.merge(other.unattributed_value_, merge_what);
    for (std::size_t c = 0; c < other.conversions_.size(); ++c) {
        next.conversions_[c].merge(other.conversions_[c], merge_what);
        next.value_[c].merge(other.value_[c], merge_what);
    }
    for (const auto& [key, t] : other.table_) add_totals(next.table_[key], t, merge_what);
    *this = std::move(next);
}

FUNNELKIT_INLINE void attribution_state::reset() {
    paths_ = converting_paths_ = unattributed_conversions_ = 0;
    total_value_.reset();
    unattributed_value_.reset();
    for (auto& x : conversions_) x.reset();
    for (auto& x : value_) x.reset();
    table_.clear();
}

FUNNELKIT_INLINE bool operator==(const attribution_state& a, const attribution_state& b) {
    using namespace detail::attribution_impl;
    if (a.recorded_ != b.recorded_ || (a.recorded_ && !option_difference(a.options_, b.options_)[0].empty()))
        return false;
    if (a.n_channels_ != b.n_channels_ || a.paths_ != b.paths_ || a.converting_paths_ != b.converting_paths_ ||
        a.unattributed_conversions_ != b.unattributed_conversions_ || !(a.total_value_ == b.total_value_) ||
        !(a.unattributed_value_ == b.unattributed_value_))
        return false;
    return a.conversions_ == b.conversions_ && a.value_ == b.value_ && a.table_ == b.table_;
}

FUNNELKIT_INLINE std::vector<std::byte> attribution_state::serialize() const {
    using namespace detail::attribution_impl;
    detail::byte_writer w(state_magic, state_format);
    w.put(static_cast<std::uint8_t>(recorded_ ? 1 : 0));
    const attribution_options& op = options_;
    w.put(static_cast<std::uint8_t>(op.model));
    for (double x : {op.u_first, op.u_middle, op.u_last, op.w_first, op.w_lead, op.w_opportunity, op.w_rest,
                     op.half_life, op.middle})
        w.put(x);
    w.put(op.head);
    w.put(op.tail);
    w.put(static_cast<std::int32_t>(op.markov_order));
    w.put(static_cast<std::uint8_t>(op.markov_weighting));
    w.put(static_cast<std::uint8_t>(op.game));
    w.put(static_cast<std::int32_t>(op.shapley_exact_max));
    w.put(op.shapley_samples);
    w.put(op.seed);
    w.put(n_channels_);
    w.put(paths_);
    w.put(converting_paths_);
    w.put(unattributed_conversions_);
    w.put(total_value_.parts());
    w.put(unattributed_value_.parts());
    for (std::size_t c = 0; c < conversions_.size(); ++c) {
        w.put(conversions_[c].parts());
        w.put(value_[c].parts());
    }
    w.put(static_cast<std::uint64_t>(table_.size()));
    for (const auto& [key, t] : table_) {
        w.put(key);
        w.put(t.paths);
        w.put(t.conversions);
        w.put(t.value.parts());
    }
    return std::move(w).finish();
}

FUNNELKIT_INLINE attribution_state attribution_state::deserialize(const void* data, std::size_t size) {
    using namespace detail::attribution_impl;
    detail::byte_reader r(data, size, state_magic, "attribution_state");
    r.accept_versions(state_format, state_format);
    attribution_state st;
    auto exact = [&](std::string_view field) {
        const auto parts = r.get_vector<double>();
        for (double p : parts)
            if (!std::isfinite(p)) r.fail(std::string(field) + ": part " + detail::to_text(p) + " is not finite");
        try {
            return detail::exact_sum::of(parts);
        } catch (const invalid_argument&) {
            r.fail(std::string(field) + " is not a finite double");
        }
    };
    const auto recorded = r.get<std::uint8_t>();
    if (recorded > 1) r.fail("options flag " + std::to_string(recorded) + " is not 0 or 1");
    st.recorded_ = recorded == 1;
    attribution_options& op = st.options_;
    const auto model = r.get<std::uint8_t>();
    if (model > static_cast<std::uint8_t>(attribution_model::shapley)) r.fail("model code " + std::to_string(model) + " is unknown");
    op.model = static_cast<attribution_model>(model);
    for (double* x : {&op.u_first, &op.u_middle, &op.u_last, &op.w_first, &op.w_lead, &op.w_opportunity, &op.w_rest,
                      &op.half_life, &op.middle})
        *x = r.get<double>();
    op.head = r.get_vector<double>();
    op.tail = r.get_vector<double>();
    op.markov_order = r.get<std::int32_t>();
    const auto weighting = r.get<std::uint8_t>();
    if (weighting > 1) r.fail("markov weight code " + std::to_string(weighting) + " is unknown");
    op.markov_weighting = static_cast<markov_weight>(weighting);
    const auto game = r.get<std::uint8_t>();
    if (game > 1) r.fail("shapley game code " + std::to_string(game) + " is unknown");
    op.game = static_cast<shapley_game>(game);
    op.shapley_exact_max = r.get<std::int32_t>();
    op.shapley_samples = r.get<std::int64_t>();
    op.seed = r.get<std::uint64_t>();
    if (st.recorded_) {
        try {
            validate(path_set({}, {}), op);
        } catch (const invalid_argument& e) {
            r.fail(std::string("invalid options: ") + e.what());
        }
    }
    st.n_channels_ = r.get<std::int32_t>();
    if (st.n_channels_ < 0) r.fail("channel count " + std::to_string(st.n_channels_) + " is negative");
    st.paths_ = r.get<std::int64_t>();
    st.converting_paths_ = r.get<std::int64_t>();
    st.unattributed_conversions_ = r.get<std::int64_t>();
    if (st.paths_ < 0 || st.converting_paths_ < 0 || st.unattributed_conversions_ < 0) r.fail("negative path count");
    if (st.converting_paths_ > st.paths_) r.fail("more converting paths than paths");
    st.total_value_ = exact("total value");
    st.unattributed_value_ = exact("unattributed value");
    if (st.total_value_.value() < 0.0 || st.unattributed_value_.value() < 0.0) r.fail("negative value");
    // Each channel takes at least 16 bytes.
    if (static_cast<std::size_t>(st.n_channels_) > size / 16) r.fail("channel count exceeds the blob");
    st.conversions_.resize(static_cast<std::size_t>(st.n_channels_));
    st.value_.resize(static_cast<std::size_t>(st.n_channels_));
    for (std::size_t c = 0; c < st.conversions_.size(); ++c) {
        st.conversions_[c] = exact("channel credit");
        st.value_[c] = exact("channel value");
    }
    const auto entries = r.get<std::uint64_t>();
    if (entries > size / 32) r.fail("path count " + std::to_string(entries) + " exceeds the blob");
    const bool table = st.recorded_ && uses_table(op);
    if (entries > 0 && !table) r.fail("a path table in a state whose model keeps credits");
    std::int64_t in_table = 0, conv_in_table = 0;
    const std::vector<std::int32_t>* prev = nullptr;
    for (std::uint64_t e = 0; e < entries; ++e) {
        auto key = r.get_vector<std::int32_t>();
        attribution_path_totals t;
        t.paths = r.get<std::int64_t>();
        t.conversions = r.get<std::int64_t>();
        t.value = exact("path value");
        if (key.empty()) r.fail("an empty path in the table");
        for (std::int32_t c : key)
            if (c < 0 || c >= st.n_channels_) r.fail("channel code " + std::to_string(c) + " outside the channels");
        if (op.model == attribution_model::shapley && !std::is_sorted(key.begin(), key.end(), std::less_equal<>{}))
            r.fail("a channel set that is not strictly ascending");
        if (t.paths <= 0 || t.conversions < 0 || t.conversions > t.paths) r.fail("invalid path counts");
        if (t.value.value() < 0.0 || (t.conversions == 0 && t.value.value() != 0.0)) r.fail("invalid path value");
        if (prev && !(*prev < key)) r.fail("paths not in strictly ascending order");
        in_table = detail::add_count(in_table, t.paths, "attribution_state");
        conv_in_table = detail::add_count(conv_in_table, t.conversions, "attribution_state");
        auto it = st.table_.emplace_hint(st.table_.end(), std::move(key), std::move(t));
        prev = &it->first;
    }
    if (table && (in_table != st.paths_ || conv_in_table != st.converting_paths_))
        r.fail("the path table does not add up to the path counts");
    if (!table) {
        for (std::size_t c = 0; c < st.conversions_.size(); ++c)
            if (st.conversions_[c].value() < 0.0 || st.value_[c].value() < 0.0) r.fail("a negative channel credit");
    }
    r.finish();
    return st;
}

FUNNELKIT_INLINE attribution_state attribution_sums(const path_set& paths, const attribution_options& options) {
    attribution_state st(options, paths.n_channels());
    st.add(paths);
    return st;
}

FUNNELKIT_INLINE attribution_result attribute(const attribution_state& state) {
    using namespace detail::attribution_impl;
    const attribution_options& op = state.options_;
    attribution_result out;
    out.model = op.model;
    const auto nc = static_cast<std::size_t>(state.n_channels_);
    out.conversions.assign(nc, 0.0);
    out.value.assign(nc, 0.0);
    out.unattributed_conversions = static_cast<double>(state.unattributed_conversions_);
    out.unattributed_value = state.unattributed_value_.value();
    out.paths = state.paths_;
    out.converting_paths = state.converting_paths_;
    out.total_value = state.total_value_.value();
    out.total_conversions = static_cast<double>(out.converting_paths);

    if (op.model == attribution_model::markov) {
        // The chain is fitted to the distinct sequences, each repeated as often as it occurred,
        // in the table's order: the same chain whatever the order of the rows.
        // The value of a sequence's conversions rides on its first converting copy: the chain
        // reads only the sums of the values of the conversions leaving each state.
        std::vector<std::int64_t> path, time, outcome;
        std::vector<std::int32_t> channel;
        std::vector<std::uint8_t> converted;
        std::vector<double> value;
        std::int64_t id = 0;
        for (const auto& [key, t] : state.table_)
            for (std::int64_t k = 0; k < t.paths; ++k, ++id) {
                for (std::size_t i = 0; i < key.size(); ++i) {
                    path.push_back(id);
                    time.push_back(static_cast<std::int64_t>(i));
                    channel.push_back(key[i]);
                }
                if (k < t.conversions) {
                    outcome.push_back(id);
                    converted.push_back(1);
                    value.push_back(k == 0 ? t.value.value() : 0.0);
                }
            }
        const path_set paths(touch_columns{path, time, channel}, outcome_columns{outcome, converted, value},
                             state.n_channels_);
        const markov_removal mr =
            markov_removal_effects(paths, op.markov_order, markov_solver::automatic, op.markov_weighting);
        std::vector<double> effect = mr.removal_effect;
        std::vector<double> by_value = op.markov_weighting == markov_weight::value ? mr.value_removal_effect : effect;
        effect.resize(nc, 0.0);
        by_value.resize(nc, 0.0);
        out.score = by_value;
        out.base = mr.p_convert;
        double sum = 0.0, sum_value = 0.0;
        for (double x : effect) sum += x;
        for (double x : by_value) sum_value += x;
        for (std::size_t c = 0; c < nc; ++c) {
            if (sum > 0.0) out.conversions[c] = out.total_conversions * effect[c] / sum;
            if (sum_value > 0.0) out.value[c] = out.total_value * by_value[c] / sum_value;
        }
        return out;
    }
    if (op.model == attribution_model::shapley && op.game == shapley_game::value_rate) {
        shapley_rate(sets_of(state.table_, state.n_channels_), nc, op, out);
        return out;
    }
    for (std::size_t c = 0; c < nc; ++c) {
        out.conversions[c] = state.conversions_[c].value();
        out.value[c] = state.value_[c].value();
    }
    if (op.model == attribution_model::shapley) {  // covered_value: the closed form
        out.score = out.value;
        out.base = out.total_value;
        out.exact = true;
    }
    return out;
}

FUNNELKIT_INLINE attribution_result attribute(const path_set& paths, const attribution_options& op) {
    return attribute(attribution_sums(paths, op));
}

FUNNELKIT_INLINE attribution_result attribute(const touch_columns& touches, const outcome_columns& outcomes,
                                              const attribution_options& options) {
    return attribute(path_set(touches, outcomes, 0, options.threads), options);
}

FUNNELKIT_END_NAMESPACE
