// Definitions for funnelkit/attribution.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/attribution.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <map>
#include <numeric>
#include <string>

#include "funnelkit/detail/entity_index.hpp"
#include "funnelkit/detail/random.hpp"
#include "funnelkit/detail/time_math.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/markov.hpp"

FUNNELKIT_BEGIN_NAMESPACE

// ---------------------------------------------------------------------------------------------
// path_set

FUNNELKIT_INLINE path_set::path_set(const touch_columns& t, const outcome_columns& o, std::int32_t n_channels) {
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

    // Dense ids: outcome rows first (0..m-1, duplicates rejected), then touch-only paths.
    detail::entity_index index(m + n / 4);
    for (std::size_t i = 0; i < m; ++i) {
        const std::uint32_t k = index.insert(o.path[i]);
        if (k != i) [[unlikely]]
            detail::throw_at_row("outcome path", i, std::to_string(o.path[i]),
                                 "repeats a path id (each path has one outcome row)");
    }
    std::vector<std::uint32_t> dense(n);
    std::vector<std::size_t> count;
    count.assign(m, 0);
    auto conv_time_of = [&](std::uint32_t k) -> const std::int64_t* {
        if (k < m && !o.conversion_time.empty() && o.converted[k]) return &o.conversion_time[k];
        return nullptr;
    };
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t k = index.insert(t.path[i]);
        if (k >= count.size()) count.resize(k + 1, 0);
        dense[i] = k;
        if (t.channel[i] < 0) continue;
        if (const std::int64_t* ct = conv_time_of(k); ct && t.time[i] > *ct) continue;  // after conversion
        ++count[k];
    }
    const std::size_t n_dense = count.size();
    std::vector<std::size_t> start(n_dense + 1, 0);
    for (std::size_t k = 0; k < n_dense; ++k) start[k + 1] = start[k] + count[k];
    std::vector<std::size_t> order(start.back());
    {
        std::vector<std::size_t> fill(start.begin(), start.end() - 1);
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t k = dense[i];
            if (t.channel[i] < 0) continue;
            if (const std::int64_t* ct = conv_time_of(k); ct && t.time[i] > *ct) continue;
            order[fill[k]++] = i;
        }
    }
    auto by_time = [&](std::size_t a, std::size_t b) { return t.time[a] < t.time[b]; };
    channel_.reserve(order.size());
    time_.reserve(order.size());
    if (has_milestones_) milestone_.reserve(order.size());
    for (std::size_t k = 0; k < n_dense; ++k) {
        const bool is_conv = k < m && o.converted[k] != 0;
        const double val = k < m ? (o.value.empty() ? 1.0 : o.value[k]) : 0.0;
        if (count[k] == 0) {
            if (is_conv) {
                unattributed_conversions_ += 1.0;
                unattributed_value_ += val;
            }
            continue;
        }
        auto first = order.begin() + static_cast<std::ptrdiff_t>(start[k]);
        auto last = order.begin() + static_cast<std::ptrdiff_t>(start[k + 1]);
        if (!std::is_sorted(first, last, by_time)) std::stable_sort(first, last, by_time);
        for (auto it = first; it != last; ++it) {
            channel_.push_back(t.channel[*it]);
            time_.push_back(t.time[*it]);
            if (has_milestones_) milestone_.push_back(t.milestone[*it]);
        }
        offsets_.push_back(channel_.size());
        ids_.push_back(k < m ? o.path[k] : t.path[*first]);
        converted_.push_back(is_conv ? 1 : 0);
        value_.push_back(is_conv ? val : 0.0);
        const std::int64_t* ct = conv_time_of(static_cast<std::uint32_t>(k));
        conv_time_.push_back(ct ? *ct : time_.back());
    }
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

// Canonical: dense channel indices in ascending channel code, sets in ascending order of
// their members, each set's value summed in ascending order. The sets, and so the exact and
// the sampled Shapley values, depend on the paths as a set, not on the order of the rows.
inline channel_sets distinct_sets(const path_set& paths) {
    channel_sets out;
    const auto nc = static_cast<std::size_t>(paths.n_channels());
    std::vector<char> used(nc, 0);
    for (std::size_t p = 0; p < paths.n_paths(); ++p)
        for (std::int32_t c : paths.channels(p)) used[static_cast<std::size_t>(c)] = 1;
    std::vector<std::int32_t> dense(nc, -1);
    for (std::size_t c = 0; c < nc; ++c)
        if (used[c]) {
            dense[c] = static_cast<std::int32_t>(out.present.size());
            out.present.push_back(static_cast<std::int32_t>(c));
        }
    struct totals {
        double n_paths = 0, conversions = 0;
        std::vector<double> values;
    };
    std::map<std::vector<std::uint32_t>, totals> seen;
    std::vector<std::uint32_t> key;
    for (std::size_t p = 0; p < paths.n_paths(); ++p) {
        key.clear();
        for (std::int32_t c : paths.channels(p)) key.push_back(static_cast<std::uint32_t>(dense[static_cast<std::size_t>(c)]));
        std::sort(key.begin(), key.end());
        key.erase(std::unique(key.begin(), key.end()), key.end());
        totals& t = seen[key];
        t.n_paths += 1.0;
        if (paths.converted(p)) {
            t.conversions += 1.0;
            t.values.push_back(paths.value(p));
        }
    }
    for (auto& [members, t] : seen) {
        out.members.insert(out.members.end(), members.begin(), members.end());
        out.offsets.push_back(out.members.size());
        out.n_paths.push_back(t.n_paths);
        out.conversions.push_back(t.conversions);
        std::sort(t.values.begin(), t.values.end());
        double v = 0.0;
        for (double x : t.values) v += x;
        out.value.push_back(v);
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

inline void shapley(const path_set& paths, const attribution_options& op, attribution_result& out) {
    const auto nc = static_cast<std::size_t>(paths.n_channels());
    out.score.assign(nc, 0.0);
    if (op.game == shapley_game::covered_value) {
        // Closed form: the game is a sum of unanimity games, one per converting path.
        std::vector<std::int32_t> distinct;
        for (std::size_t p = 0; p < paths.n_paths(); ++p) {
            if (!paths.converted(p)) continue;
            auto ch = paths.channels(p);
            distinct.assign(ch.begin(), ch.end());
            std::sort(distinct.begin(), distinct.end());
            distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
            const double share = 1.0 / static_cast<double>(distinct.size());
            for (std::int32_t c : distinct) {
                out.conversions[static_cast<std::size_t>(c)] += share;
                out.value[static_cast<std::size_t>(c)] += share * paths.value(p);
            }
        }
        out.score = out.value;
        out.base = out.total_value;
        out.exact = true;
        return;
    }
    const channel_sets cs = distinct_sets(paths);
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
    // The totals are the canonical sums over the sets (equal to total_conversions and
    // total_value up to rounding), so that the credits do not depend on the row order either.
    const std::array<double, 2> totals{all.conv, all.val};
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

}  // namespace detail::attribution_impl

FUNNELKIT_INLINE attribution_result attribute(const path_set& paths, const attribution_options& op) {
    using namespace detail::attribution_impl;
    validate(paths, op);
    attribution_result out;
    out.model = op.model;
    const auto nc = static_cast<std::size_t>(paths.n_channels());
    out.conversions.assign(nc, 0.0);
    out.value.assign(nc, 0.0);
    out.unattributed_conversions = paths.unattributed_conversions();
    out.unattributed_value = paths.unattributed_value();
    out.paths = static_cast<std::int64_t>(paths.n_paths());
    for (std::size_t p = 0; p < paths.n_paths(); ++p)
        if (paths.converted(p)) {
            ++out.converting_paths;
            out.total_value += paths.value(p);
        }
    out.total_conversions = static_cast<double>(out.converting_paths);

    if (op.model == attribution_model::markov) {
        const markov_removal mr =
            markov_removal_effects(paths, op.markov_order, markov_solver::automatic, op.markov_weighting);
        const std::vector<double>& by_value =
            op.markov_weighting == markov_weight::value ? mr.value_removal_effect : mr.removal_effect;
        out.score = by_value;
        out.base = mr.p_convert;
        double sum = 0.0, sum_value = 0.0;
        for (double x : mr.removal_effect) sum += x;
        for (double x : by_value) sum_value += x;
        for (std::size_t c = 0; c < nc; ++c) {
            if (sum > 0.0) out.conversions[c] = out.total_conversions * mr.removal_effect[c] / sum;
            if (sum_value > 0.0) out.value[c] = out.total_value * by_value[c] / sum_value;
        }
        return out;
    }
    if (op.model == attribution_model::shapley) {
        shapley(paths, op, out);
        return out;
    }

    const std::array<double, 1> u_head{op.u_first}, u_tail{op.u_last};
    std::vector<double> w;
    for (std::size_t p = 0; p < paths.n_paths(); ++p) {
        if (!paths.converted(p)) continue;
        const auto ch = paths.channels(p);
        const std::size_t n = ch.size();
        switch (op.model) {
        case attribution_model::first_touch: w.assign(n, 0.0), w.front() = 1.0; break;
        case attribution_model::last_touch: w.assign(n, 0.0), w.back() = 1.0; break;
        case attribution_model::linear: w.assign(n, 1.0 / static_cast<double>(n)); break;
        case attribution_model::u_shaped: position_weights(n, u_head, u_tail, op.u_middle, w); break;
        case attribution_model::position: position_weights(n, op.head, op.tail, op.middle, w); break;
        case attribution_model::w_shaped: w_shape_weights(paths.milestones(p), op, w); break;
        case attribution_model::time_decay:
            time_decay_weights(paths.times(p), op.half_life, w);
            break;
        default: break;
        }
        const double v = paths.value(p);
        for (std::size_t i = 0; i < n; ++i) {
            const auto c = static_cast<std::size_t>(ch[i]);
            out.conversions[c] += w[i];
            out.value[c] += w[i] * v;
        }
    }
    return out;
}

FUNNELKIT_INLINE attribution_result attribute(const touch_columns& touches, const outcome_columns& outcomes,
                                              const attribution_options& options) {
    return attribute(path_set(touches, outcomes), options);
}

FUNNELKIT_END_NAMESPACE
