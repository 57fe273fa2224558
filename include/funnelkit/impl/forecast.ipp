// Definitions for funnelkit/forecast.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/forecast.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <tuple>
#include <utility>


#include "funnelkit/detail/random.hpp"
#include "funnelkit/detail/time_math.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/lifecycle.hpp"
#include "funnelkit/markov.hpp"
#include "funnelkit/grouping.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::forecast_impl {

inline std::string num(double v) { return detail::to_display(v); }

// First grid index k with origin + k * step >= t, for t <= origin: -floor((origin - t) / step),
// from the exact difference (any two int64 times).
inline std::int64_t grid_index(std::int64_t t, std::int64_t origin, std::int64_t step) {
    const std::uint64_t q = detail::elapsed_ticks(t, origin) / static_cast<std::uint64_t>(step);
    if (q > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        detail::throw_option("step", std::to_string(step), "is too short for the span of the times");
    return -static_cast<std::int64_t>(q);
}

// One stretch of consecutive snapshots in one transient state, and how it ended.
struct run {
    std::int32_t state;   // index into the transient states
    std::int64_t steps;   // T: steps at risk (exits: including the step of the exit)
    std::int32_t dest;    // state index it moved to (transient first, then absorbing), or -1: still open
};

// The data the forecasts share: histories, amounts, state indexing.
struct prepared {
    explicit prepared(stage_histories hist) : h(std::move(hist)) {}
    stage_histories h;
    // Stage code -> state index (transient first, then absorbing); a transient stage maps to its
    // state without memory (nothing visited before).
    std::vector<std::int32_t> state_of;
    // Stage code of each transient state (a stage has one state per path with memory), and of
    // each absorbing state.
    std::vector<std::int32_t> transient, absorbing;
    // With path memory: the stages visited before each transient state's run (bit c: code c);
    // empty without.
    std::vector<std::uint64_t> visited;
    // Per transient state: its stage's index among the transient stages (base_stage).
    std::vector<std::int32_t> base_of, base_stage;
    // State index of every history event.
    std::vector<std::int32_t> event_state;
    std::size_t won_index = 0;  // into absorbing
    // Known amounts (not NaN; 0 is an amount) of each entity as (time, amount), sorted.
    std::vector<std::size_t> amount_offset;
    std::vector<std::pair<std::int64_t, double>> amounts;

    std::size_t n_transient() const noexcept { return transient.size(); }
    std::size_t n_states() const noexcept { return transient.size() + absorbing.size(); }
    bool is_absorbing(std::int32_t state) const noexcept { return static_cast<std::size_t>(state) >= transient.size(); }
    std::int32_t won_state() const noexcept { return static_cast<std::int32_t>(transient.size() + won_index); }

    // Latest known amount of entity i at or before t (NaN when none).
    double amount_at(std::size_t i, std::int64_t t) const {
        const auto first = amounts.begin() + static_cast<std::ptrdiff_t>(amount_offset[i]);
        const auto last = amounts.begin() + static_cast<std::ptrdiff_t>(amount_offset[i + 1]);
        auto it = std::upper_bound(first, last, std::make_pair(t, std::numeric_limits<double>::infinity()));
        return it == first ? std::numeric_limits<double>::quiet_NaN() : std::prev(it)->second;
    }
};

inline prepared prepare(const stage_model& model, const stage_records& rec, std::optional<std::int64_t> as_of,
                        path_memory memory = path_memory::none) {
    if (!model.won()) detail::throw_option("model", "(no won stage)", "a forecast needs a won stage");
    if (rec.size() == 0) detail::throw_option("records", "(empty)", "a forecast needs stage records; none were given");
    // Amounts: NaN marks a record without one (the entity's latest known amount, else the mean
    // won amount, is used); 0 is an amount. The histories do not need the column.
    if (!rec.amount.empty() && rec.amount.size() != rec.size())
        detail::throw_length("amount", rec.amount.size(), "entity", rec.size());
    for (std::size_t r = 0; r < rec.amount.size(); ++r)
        if (!std::isnan(rec.amount[r]) && !(std::isfinite(rec.amount[r]) && rec.amount[r] >= 0))
            detail::throw_at_row("amount", r, detail::to_text(rec.amount[r]), "is not a finite amount >= 0 (NaN: no amount)");
    stage_records without_amount = rec;
    without_amount.amount = {};
    history_options ho;
    ho.as_of = as_of;
    prepared p{build_histories(model, without_amount, ho)};
    const auto n_codes = static_cast<std::int32_t>(model.size());
    if (memory == path_memory::visited && n_codes > 64)
        detail::throw_option("memory", "visited", "records the visited stages of models with at most 64 stages, not " +
                                                      std::to_string(n_codes));
    for (std::int32_t c = 0; c < n_codes; ++c) (model.is_terminal(c) ? p.absorbing : p.base_stage).push_back(c);
    // The transient states: every transient stage with nothing visited before, and with path
    // memory every (stage, stages visited before the run) that occurs in the histories. The
    // visited set grows when a run of another stage ends (repeated records of one stage do not
    // change it); runs are read from the events, so a visit between two snapshots counts.
    const auto off = p.h.offsets();
    const auto ev = p.h.event_stages();
    std::vector<std::uint64_t> mask(ev.size(), 0);
    if (memory == path_memory::visited)
        for (std::size_t i = 0; i < p.h.size(); ++i) {
            std::uint64_t seen = 0, run_mask = 0;
            std::int32_t cur = -1;
            for (std::size_t e = off[i]; e < off[i + 1]; ++e) {
                if (ev[e] != cur) {
                    if (cur >= 0 && !model.is_terminal(cur)) seen |= std::uint64_t{1} << cur;
                    cur = ev[e];
                    run_mask = seen;
                }
                mask[e] = run_mask;
            }
        }
    std::vector<std::pair<std::int32_t, std::uint64_t>> keys;
    for (const std::int32_t c : p.base_stage) keys.push_back({c, 0});
    for (std::size_t e = 0; e < ev.size(); ++e)
        if (!model.is_terminal(ev[e])) keys.push_back({ev[e], mask[e]});
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    if (keys.size() > 256)
        detail::throw_option("memory", "visited",
                             "gives " + std::to_string(keys.size()) + " (stage, stages visited before) states in these "
                             "histories, more than 256; use memory none");
    std::vector<std::int32_t> base_index(static_cast<std::size_t>(n_codes), -1);
    for (std::size_t b = 0; b < p.base_stage.size(); ++b) base_index[static_cast<std::size_t>(p.base_stage[b])] = static_cast<std::int32_t>(b);
    for (const auto& [c, m] : keys) {
        p.transient.push_back(c);
        p.base_of.push_back(base_index[static_cast<std::size_t>(c)]);
        if (memory == path_memory::visited) p.visited.push_back(m);
    }
    auto index_of = [&](std::int32_t c, std::uint64_t m) {
        return static_cast<std::int32_t>(std::lower_bound(keys.begin(), keys.end(), std::make_pair(c, m)) - keys.begin());
    };
    p.state_of.assign(static_cast<std::size_t>(n_codes), -1);
    for (const std::int32_t c : p.base_stage) p.state_of[static_cast<std::size_t>(c)] = index_of(c, 0);
    for (std::size_t i = 0; i < p.absorbing.size(); ++i) {
        p.state_of[static_cast<std::size_t>(p.absorbing[i])] = static_cast<std::int32_t>(p.transient.size() + i);
        if (p.absorbing[i] == *model.won()) p.won_index = i;
    }
    p.event_state.resize(ev.size());
    for (std::size_t e = 0; e < ev.size(); ++e)
        p.event_state[e] = model.is_terminal(ev[e]) ? p.state_of[static_cast<std::size_t>(ev[e])] : index_of(ev[e], mask[e]);
    const auto ids = p.h.entities();
    std::vector<std::size_t> count(ids.size() + 1, 0);
    std::vector<std::pair<std::size_t, std::pair<std::int64_t, double>>> rows;
    if (!rec.amount.empty()) {
        for (std::size_t r = 0; r < rec.size(); ++r) {
            if (std::isnan(rec.amount[r])) continue;
            const auto it = std::lower_bound(ids.begin(), ids.end(), rec.entity[r]);
            rows.push_back({static_cast<std::size_t>(it - ids.begin()), {rec.time[r], rec.amount[r]}});
        }
    }
    std::sort(rows.begin(), rows.end());
    p.amount_offset.assign(ids.size() + 1, 0);
    for (const auto& r : rows) ++p.amount_offset[r.first + 1];
    for (std::size_t i = 0; i < ids.size(); ++i) p.amount_offset[i + 1] += p.amount_offset[i];
    p.amounts.reserve(rows.size());
    for (const auto& r : rows) p.amounts.push_back(r.second);
    return p;
}

// The runs of every entity up to the origin, and each entity's state at the origin.
struct origin_view {
    std::vector<std::size_t> run_offset;  // runs of entity i: run_offset[i] .. run_offset[i+1]-1
    std::vector<run> runs;
    // State at the origin (-1: no event yet), and its age when transient.
    std::vector<std::int32_t> state;
    std::vector<std::int64_t> age;
};

inline origin_view view_at(const prepared& p, std::int64_t origin, std::int64_t step) {
    const auto& h = p.h;
    const auto off = h.offsets();
    const auto times = h.event_times();
    origin_view v;
    v.run_offset.assign(h.size() + 1, 0);
    v.state.assign(h.size(), -1);
    v.age.assign(h.size(), 0);
    for (std::size_t i = 0; i < h.size(); ++i) {
        // Runs as (state, first index, last index) over the snapshots at or before the origin.
        std::int32_t cur = -1;
        std::int64_t first = 0, last = 0;
        bool absorbed = false;
        for (std::size_t e = off[i]; e < off[i + 1] && !absorbed; ++e) {
            const std::int64_t t = times[e];
            if (t > origin) break;
            const std::int64_t lo = grid_index(t, origin, step);
            const std::int64_t hi = e + 1 < off[i + 1] && times[e + 1] <= origin ? grid_index(times[e + 1], origin, step) - 1 : 0;
            if (lo > hi) continue;  // a visit between two snapshots: not seen on the grid
            const std::int32_t s = p.event_state[e];
            if (s == cur) {
                last = hi;
                continue;
            }
            if (cur >= 0) v.runs.push_back({cur, last - first + 1, s});
            if (p.is_absorbing(s)) {
                absorbed = true;
                cur = s;
                break;
            }
            cur = s;
            first = lo;
            last = hi;
        }
        if (cur >= 0 && !absorbed) {
            v.runs.push_back({cur, last - first, -1});
            v.age[i] = last - first;
        }
        v.state[i] = cur;
        v.run_offset[i + 1] = v.runs.size();
    }
    return v;
}

// Estimates a model from the runs of the entities with segment `segment` (-1: all), each entity
// counted mult[i] times (a bootstrap resample; nullptr: once). The counts are sufficient: a run
// of T steps is at risk at ages 0..T-1 and, when it ended, moved at age T-1 (ages from the
// tail on pooled), so a histogram of the run lengths per state gives every at-risk count by a
// suffix sum, in one pass over the runs and without sorting. h_s(a, d) = moves / at risk is the
// discrete hazard of the Aalen-Johansen estimate of the runs of s (destinations competing, open
// runs censored at their length); the tail row pools the moves and steps at risk beyond it.
// Into m, reusing its buffers (the bootstrap refits one model after another).
inline void estimate(transition_model& m, const prepared& p, const origin_view& v, forecast_model kind,
                     std::int32_t max_age, std::int32_t segment, const std::vector<std::uint32_t>* mult = nullptr) {
    m.kind = kind;
    m.max_age = kind == forecast_model::markov ? 0 : max_age;
    m.transient = p.transient;
    m.visited = p.visited;
    m.absorbing = p.absorbing;
    m.won_index = p.won_index;
    m.segment = segment;
    const std::size_t S = p.n_states(), A = m.ages(), nt = p.n_transient();
    m.hazard.assign(nt * A * S, 0.0);
    m.at_risk.assign(nt * A, 0.0);
    m.moves.assign(nt * A * S, 0);
    m.pooled.clear();
    const auto seg = p.h.segments();
    const std::size_t tail = A - 1;  // the pooled row: ages >= max_age
    // length[s * A + k]: runs of s whose length clipped to the tail is k; beyond[s]: their steps
    // at risk past the tail.
    std::vector<double> length(nt * A, 0.0), beyond(nt, 0.0);
    for (std::size_t i = 0; i < p.h.size(); ++i) {
        if (segment >= 0 && seg[i] != segment) continue;
        const std::uint32_t w = mult ? (*mult)[i] : 1u;
        if (w == 0) continue;
        for (std::size_t r = v.run_offset[i]; r < v.run_offset[i + 1]; ++r) {
            const run& x = v.runs[r];
            const auto s = static_cast<std::size_t>(x.state);
            const auto T = static_cast<std::uint64_t>(x.steps);
            length[s * A + static_cast<std::size_t>(std::min<std::uint64_t>(T, tail))] += w;
            if (T > tail) beyond[s] += static_cast<double>(w) * static_cast<double>(T - tail);
            if (x.dest >= 0) {
                const std::size_t row = T > tail ? tail : static_cast<std::size_t>(T) - 1;
                m.moves[(s * A + row) * S + static_cast<std::size_t>(x.dest)] += w;
            }
        }
    }
    for (std::size_t s = 0; s < nt; ++s) {
        m.at_risk[s * A + tail] = beyond[s];
        double at_least = 0.0;  // runs of length >= a + 1
        for (std::size_t a = tail; a-- > 0;) {
            at_least += length[s * A + a + 1];
            m.at_risk[s * A + a] = at_least;
        }
        for (std::size_t a = 0; a < A; ++a) {
            const double n = m.at_risk[s * A + a];
            if (n > 0)
                for (std::size_t d = 0; d < S; ++d)
                    m.hazard[(s * A + a) * S + d] = static_cast<double>(m.moves[(s * A + a) * S + d]) / n;
        }
    }
}

inline transition_model estimate(const prepared& p, const origin_view& v, forecast_model kind, std::int32_t max_age,
                                 std::int32_t segment, const std::vector<std::uint32_t>* mult = nullptr) {
    transition_model m;
    estimate(m, p, v, kind, max_age, segment, mult);
    return m;
}

// Path memory: a (state, age) cell without exposure takes its stage's hazards at that age pooled
// over every path (moves and steps at risk of all the stage's states added up), each move to
// another stage going to the state of that stage whose visited set adds this stage (the same
// destination it would have had), or where no such state exists, the destination seen.
inline void pool_paths(transition_model& m, const prepared& p) {
    if (m.visited.empty()) return;
    const std::size_t S = m.n_states(), A = m.ages(), nt = m.n_transient();
    std::vector<std::pair<std::int32_t, std::uint64_t>> keys(nt);
    for (std::size_t s = 0; s < nt; ++s) keys[s] = {m.transient[s], m.visited[s]};
    std::vector<double> moved(S);
    for (std::size_t s = 0; s < nt; ++s) {
        const std::uint64_t after = m.visited[s] | (std::uint64_t{1} << m.transient[s]);
        for (std::size_t a = 0; a < A; ++a) {
            if (m.at_risk[s * A + a] > 0) continue;
            double n = 0.0;
            std::fill(moved.begin(), moved.end(), 0.0);
            for (std::size_t o = 0; o < nt; ++o) {
                if (p.base_of[o] != p.base_of[s]) continue;
                n += m.at_risk[o * A + a];
                for (std::size_t d = 0; d < S; ++d) {
                    const auto k = m.moves[(o * A + a) * S + d];
                    if (k == 0) continue;
                    std::size_t to = d;
                    if (d < nt) {
                        const auto it = std::lower_bound(keys.begin(), keys.end(), std::make_pair(m.transient[d], after));
                        if (it != keys.end() && *it == std::make_pair(m.transient[d], after))
                            to = static_cast<std::size_t>(it - keys.begin());
                    }
                    moved[to] += static_cast<double>(k);
                }
            }
            if (n > 0)
                for (std::size_t d = 0; d < S; ++d) m.hazard[(s * A + a) * S + d] = d == s ? 0.0 : moved[d] / n;
        }
    }
}

// A segment's cells without exposure take the pooled model's hazards (no history is not evidence
// that a deal never moves). Returns the cells that fell back.
inline std::int64_t fall_back(transition_model& m, const transition_model& pooled) {
    const std::size_t S = m.n_states(), A = m.ages(), nt = m.n_transient();
    m.pooled.assign(nt * A, 0);
    std::int64_t cells = 0;
    for (std::size_t k = 0; k < nt * A; ++k) {
        if (m.at_risk[k] > 0) continue;
        m.pooled[k] = 1;
        ++cells;
        for (std::size_t d = 0; d < S; ++d) m.hazard[k * S + d] = pooled.hazard[k * S + d];
    }
    return cells;
}

// The backward recursion of the chances of a win, over a model's rows: the total hazard and the
// hazard of a win per (s, a), and per state the transient destinations it ever moves to (most
// pairs of stages never exchange entities, so the recursion visits only those).
struct won_recursion {
    const transition_model& m;
    std::size_t nt, A;
    std::vector<double> total, won;
    std::vector<std::size_t> dest_offset, dest;

    explicit won_recursion(const transition_model& model)
        : m(model), nt(model.n_transient()), A(model.ages()), total(nt * A, 0.0), won(nt * A, 0.0), dest_offset(nt + 1, 0) {
        const std::size_t S = m.n_states(), w = nt + m.won_index;
        for (std::size_t s = 0; s < nt; ++s) {
            for (std::size_t d = 0; d < nt; ++d)
                for (std::size_t a = 0; a < A; ++a)
                    if (m.hazard[(s * A + a) * S + d] != 0) {
                        dest.push_back(d);
                        break;
                    }
            dest_offset[s + 1] = dest.size();
            for (std::size_t a = 0; a < A; ++a) {
                double H = 0.0;
                for (std::size_t d = 0; d < S; ++d) H += m.hazard[(s * A + a) * S + d];
                total[s * A + a] = H;
                won[s * A + a] = m.hazard[(s * A + a) * S + w];
            }
        }
    }

    // cur[s * A + a] = P(won at step t | at (s, a) now) from prev = the same for step t - 1
    // (nullptr at t = 1).
    void step(const double* prev, double* cur) const {
        const std::size_t S = m.n_states();
        if (!prev) {
            std::copy(won.begin(), won.end(), cur);
            return;
        }
        for (std::size_t s = 0; s < nt; ++s)
            for (std::size_t a = 0; a < A; ++a) {
                const double* h = &m.hazard[(s * A + a) * S];
                double v = 0.0;
                for (std::size_t k = dest_offset[s]; k < dest_offset[s + 1]; ++k) v += h[dest[k]] * prev[dest[k] * A];
                cur[s * A + a] = v + (1 - total[s * A + a]) * prev[s * A + std::min(a + 1, A - 1)];
            }
    }
};

// P(won in period q | at (s, a) now), [q * (n_transient * ages) + s * ages + a], keeping two steps
// in memory at a time.
// Into out, with prev and cur as scratch; all three keep their buffers between calls.
inline void won_per_period(const transition_model& m, std::int32_t periods, std::int32_t period_steps,
                           std::vector<double>& out, std::vector<double>& prev, std::vector<double>& cur) {
    const won_recursion rec(m);
    const std::size_t block = m.n_transient() * m.ages();
    out.assign(static_cast<std::size_t>(periods) * block, 0.0);
    prev.resize(block);
    cur.resize(block);
    for (std::int32_t t = 1; t <= periods * period_steps; ++t) {
        rec.step(t > 1 ? prev.data() : nullptr, cur.data());
        double* sum = &out[static_cast<std::size_t>((t - 1) / period_steps) * block];
        for (std::size_t k = 0; k < block; ++k) sum[k] += cur[k];
        std::swap(prev, cur);
    }
}

inline std::vector<double> won_per_period(const transition_model& m, std::int32_t periods, std::int32_t period_steps) {
    std::vector<double> out, prev, cur;
    won_per_period(m, periods, period_steps, out, prev, cur);
    return out;
}

inline void check_options(const forecast_options& o) {
    if (static_cast<unsigned>(o.model) > 1u) detail::throw_option("model", std::to_string(static_cast<int>(o.model)), "is not a forecast_model");
    if (static_cast<unsigned>(o.memory) > 1u) detail::throw_option("memory", std::to_string(static_cast<int>(o.memory)), "is not a path_memory");
    if (o.step <= 0) detail::throw_option("step", std::to_string(o.step), "must be > 0");
    if (o.periods < 1 || o.periods > 1000) detail::throw_option("periods", std::to_string(o.periods), "must be in 1..1000");
    if (o.period_steps < 1 || o.period_steps > 100'000)
        detail::throw_option("period_steps", std::to_string(o.period_steps), "must be in 1..100000");
    if (static_cast<std::int64_t>(o.periods) * o.period_steps > 1'000'000)
        detail::throw_option("periods", std::to_string(o.periods), "times period_steps must be at most 1,000,000 steps");
    if (o.max_age < 0 || o.max_age > 10'000) detail::throw_option("max_age", std::to_string(o.max_age), "must be in 0..10000 steps");
    if (o.simulations < 0 || o.simulations > 1'000'000)
        detail::throw_option("simulations", std::to_string(o.simulations), "must be in 0..1000000");
    if (!(o.confidence > 0 && o.confidence < 1)) detail::throw_option("confidence", detail::to_text(o.confidence), "must be in (0, 1)");
    if (o.bootstrap_models < 1 || o.bootstrap_models > 1'000'000)
        detail::throw_option("bootstrap_models", std::to_string(o.bootstrap_models), "must be in 1..1000000");
    if (o.threads < 1 || o.threads > 1024) detail::throw_option("threads", std::to_string(o.threads), "must be in 1..1024");
}

// The horizon in ticks, periods * period_steps * step; throws when it or origin + horizon would
// leave the int64 range.
inline std::int64_t horizon_ticks(const forecast_options& o, std::int64_t origin) {
    std::int64_t len = 0, horizon = 0, end = 0;
    if (__builtin_mul_overflow(static_cast<std::int64_t>(o.period_steps), o.step, &len) ||
        __builtin_mul_overflow(len, static_cast<std::int64_t>(o.periods), &horizon) ||
        __builtin_add_overflow(origin, horizon, &end))
        detail::throw_option("step", std::to_string(o.step),
                             "times period_steps and periods runs past the largest time after the origin " +
                                 std::to_string(origin));
    return horizon;
}

inline double percentile(std::vector<double>& v, double q) {
    std::sort(v.begin(), v.end());
    const double hq = q * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(hq));
    const std::size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (hq - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

// The models of one forecast: the pooled one, then one per segment with by_segment (cells without
// exposure falling back to the pooled hazards), from the training entities counted mult times.
inline void models_at(std::vector<transition_model>& models, const prepared& p, const origin_view& v,
                      const forecast_options& o, const std::vector<std::uint32_t>* mult, std::int64_t* pooled_cells) {
    const std::size_t n_seg = o.by_segment ? p.h.n_segments() : 0;
    models.resize(n_seg + 1);
    estimate(models[0], p, v, o.model, o.max_age, -1, mult);
    pool_paths(models[0], p);
    std::int64_t cells = 0;
    for (std::size_t g = 0; g < n_seg; ++g) {
        estimate(models[g + 1], p, v, o.model, o.max_age, static_cast<std::int32_t>(g), mult);
        cells += fall_back(models[g + 1], models[0]);
    }
    if (pooled_cells) *pooled_cells = cells;
}

inline std::vector<transition_model> models_at(const prepared& p, const origin_view& v, const forecast_options& o,
                                               const std::vector<std::uint32_t>* mult, std::int64_t* pooled_cells) {
    std::vector<transition_model> models;
    models_at(models, p, v, o, mult, pooled_cells);
    return models;
}

// What each entity adds to the training figures: whether it has closed by the origin (and won),
// its won amount (NaN: none known), and the transient states it visited.
struct training_entity {
    bool closed = false, won = false;
    double won_amount = std::numeric_limits<double>::quiet_NaN();
};

// A forecast at one origin with one model, from the prepared data and the view at the origin.
inline pipeline_forecast forecast_at(const prepared& p, const origin_view& v, std::int64_t origin, const forecast_options& o) {
    (void)horizon_ticks(o, origin);
    pipeline_forecast f;
    f.origin = origin;
    f.as_of = p.h.as_of();
    f.options = o;
    f.options.origin = origin;
    const std::size_t nt = p.n_transient(), H = static_cast<std::size_t>(o.periods);
    const auto seg = p.h.segments();
    const double work = static_cast<double>(o.periods) * o.period_steps * static_cast<double>(o.model == forecast_model::markov ? 1 : o.max_age + 1) *
                        static_cast<double>(nt * p.n_states()) * (o.by_segment ? static_cast<double>(p.h.n_segments()) + 1 : 1.0) *
                        (o.bootstrap_hazards ? static_cast<double>(std::min(o.simulations, o.bootstrap_models)) + 1 : 1.0);
    if (work > 4e11)
        detail::throw_option("periods", std::to_string(o.periods),
                             "times period_steps, max_age, the states, segments and simulations is too much work (" +
                                 detail::to_text(work) + " operations); use a longer step, a shorter horizon or fewer simulations");
    f.models = models_at(p, v, o, nullptr, &f.pooled_cells);
    std::vector<chain_outcomes> outcomes;
    std::vector<std::vector<double>> per_period;
    for (const auto& m : f.models) {
        outcomes.push_back(solve_outcomes(m));
        per_period.push_back(won_per_period(m, o.periods, o.period_steps));
    }

    // Training: mean won amount, and the weighted pipeline's stage probabilities (share won among
    // the entities that were in the stage and have closed by the origin).
    std::vector<training_entity> te(p.h.size());
    const std::int32_t won_state = p.won_state();
    const auto off = p.h.offsets();
    const auto times = p.h.event_times();
    for (std::size_t i = 0; i < p.h.size(); ++i) {
        const std::int32_t st = v.state[i];
        if (st < 0 || !p.is_absorbing(st)) continue;
        te[i].closed = true;
        te[i].won = st == won_state;
        if (te[i].won) {
            // The time of its (first) won event at or before the origin.
            std::int64_t wt = origin;
            for (std::size_t e = off[i]; e < off[i + 1] && times[e] <= origin; ++e)
                if (p.state_of[static_cast<std::size_t>(p.h.event_stages()[e])] == won_state) { wt = times[e]; break; }
            te[i].won_amount = p.amount_at(i, wt);
        }
    }
    // stage_p from the training entities counted mult times (nullptr: once); and the mean won amount.
    // Per transient stage (the states of a stage with path memory taken together).
    const std::size_t nb = p.base_stage.size();
    auto stage_probabilities = [&](const std::vector<std::uint32_t>* mult) {
        std::vector<double> closed_in(nb, 0.0), won_in(nb, 0.0);
        std::vector<char> seen(nb);
        for (std::size_t i = 0; i < p.h.size(); ++i) {
            if (!te[i].closed) continue;
            const double w = mult ? static_cast<double>((*mult)[i]) : 1.0;
            if (w == 0) continue;
            std::fill(seen.begin(), seen.end(), 0);
            for (std::size_t r = v.run_offset[i]; r < v.run_offset[i + 1]; ++r)
                seen[static_cast<std::size_t>(p.base_of[static_cast<std::size_t>(v.runs[r].state)])] = 1;
            for (std::size_t s = 0; s < nb; ++s)
                if (seen[s]) {
                    closed_in[s] += w;
                    if (te[i].won) won_in[s] += w;
                }
        }
        std::vector<double> sp(nb, std::numeric_limits<double>::quiet_NaN());
        for (std::size_t s = 0; s < nb; ++s)
            if (closed_in[s] > 0) sp[s] = won_in[s] / closed_in[s];
        return sp;
    };
    double won_sum = 0.0;
    std::int64_t won_n = 0;
    for (const auto& t : te)
        if (t.won && !std::isnan(t.won_amount)) { won_sum += t.won_amount; ++won_n; }
    f.default_amount = won_n ? won_sum / static_cast<double>(won_n) : 0.0;
    const std::vector<double> stage_p = stage_probabilities(nullptr);

    // Open entities at the origin, with the index of their model and cell.
    auto& E = f.entities;
    std::vector<std::size_t> model_of, cell_of, entity_index;
    for (std::size_t i = 0; i < p.h.size(); ++i) {
        const std::int32_t st = v.state[i];
        if (st < 0 || p.is_absorbing(st)) continue;
        const auto s = static_cast<std::size_t>(st);
        const std::size_t mi = o.by_segment && seg[i] >= 0 ? static_cast<std::size_t>(seg[i]) + 1 : 0;
        const auto& co = outcomes[mi];
        const auto& md = f.models[mi];
        const auto a = static_cast<std::size_t>(v.age[i]);
        const std::size_t idx = s * md.ages() + std::min(a, md.ages() - 1);
        model_of.push_back(mi);
        cell_of.push_back(idx);
        entity_index.push_back(i);
        E.entity.push_back(p.h.entities()[i]);
        E.segment.push_back(seg[i]);
        E.stage.push_back(p.transient[s]);
        E.age.push_back(v.age[i]);
        const double own = p.amount_at(i, origin);
        E.amount.push_back(!std::isnan(own) ? own : f.default_amount);
        E.own_amount.push_back(!std::isnan(own) ? 1 : 0);
        double won = 0.0, other = 0.0;
        for (std::size_t k = 0; k < p.absorbing.size(); ++k) (k == p.won_index ? won : other) += co.p(s, a, k);
        E.p_won.push_back(won);
        E.p_lost.push_back(other);
        E.p_never.push_back(co.p_never[s * co.ages + std::min(a, co.ages - 1)]);
        E.expected_steps.push_back(co.steps(s, a));
        const auto& g = per_period[mi];
        const std::size_t block = nt * md.ages();
        for (std::size_t q = 0; q < H; ++q) E.p_won_in.push_back(g[q * block + idx]);
        E.stage_probability.push_back(stage_p[static_cast<std::size_t>(p.base_of[s])]);
        E.at_risk.push_back(md.at_risk[idx]);
        const bool fell_back = !md.pooled.empty() && md.pooled[idx];
        E.pooled.push_back(fell_back ? 1 : 0);
        f.pooled_entities += fell_back ? 1 : 0;
    }

    // Expected wins and revenue per period, and the weighted pipeline.
    const std::size_t n = E.size();
    auto& P = f.periods;
    for (std::size_t q = 0; q <= H; ++q) {
        const bool whole = q == H;
        P.period.push_back(whole ? -1 : static_cast<std::int32_t>(q));
        const std::int64_t len = static_cast<std::int64_t>(o.period_steps) * o.step;
        P.start.push_back(whole ? origin : origin + static_cast<std::int64_t>(q) * len);
        P.end.push_back(whole ? origin + static_cast<std::int64_t>(H) * len : origin + static_cast<std::int64_t>(q + 1) * len);
        double w = 0.0, r = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            double pi = 0.0;
            if (whole) for (std::size_t k = 0; k < H; ++k) pi += E.p_won_in[i * H + k];
            else pi = E.p_won_in[i * H + q];
            w += pi;
            r += pi * E.amount[i];
        }
        P.expected_wins.push_back(w);
        P.expected_revenue.push_back(r);
    }
    for (std::size_t i = 0; i < n; ++i) {
        const double sp = std::isnan(E.stage_probability[i]) ? 0.0 : E.stage_probability[i];
        f.weighted_wins += sp;
        f.weighted_revenue += sp * E.amount[i];
    }
    // Intervals: per replicate, (with bootstrap_hazards) resample the training entities and
    // re-estimate the hazards and stage probabilities, then draw which period (if any) each open
    // entity is won in; entities are independent given the replicate's model.
    const double lo_q = (1 - o.confidence) / 2, hi_q = 1 - lo_q;
    const std::size_t R = static_cast<std::size_t>(o.simulations);
    P.wins_lower.assign(H + 1, std::numeric_limits<double>::quiet_NaN());
    P.wins_upper = P.wins_lower;
    P.revenue_lower = P.wins_lower;
    P.revenue_upper = P.wins_lower;
    f.weighted_wins_lower = f.weighted_wins_upper = f.weighted_revenue_lower = f.weighted_revenue_upper =
        std::numeric_limits<double>::quiet_NaN();
    if (R > 0) {
        std::vector<std::vector<double>> wins(H + 1, std::vector<double>(R, 0.0)), rev(H + 1, std::vector<double>(R, 0.0));
        std::vector<double> ww(R, 0.0), wr(R, 0.0);
        // The training entities (those with a run or closed by the origin), in ascending id order.
        std::vector<std::size_t> train;
        for (std::size_t i = 0; i < p.h.size(); ++i)
            if (v.run_offset[i + 1] > v.run_offset[i] || te[i].closed) train.push_back(i);
        // Amounts of the training wins, in entity order: an entity without an amount of its own
        // that wins in a simulation takes one of them at random (their mean is default_amount).
        std::vector<double> won_amounts;
        for (const auto& t : te)
            if (t.won && !std::isnan(t.won_amount)) won_amounts.push_back(t.won_amount);
        const bool draw_amounts = o.resample_amounts && !won_amounts.empty();
        const bool resample = o.bootstrap_hazards && !train.empty();
        // Simulation r uses bootstrap model r mod B; without resampling, the groups only share work.
        const std::size_t B = resample ? std::min<std::size_t>(R, static_cast<std::size_t>(o.bootstrap_models))
                                       : std::min<std::size_t>(R, std::size_t{4} * o.threads);
        auto simulate = [&](std::size_t r, const double* pw, const double* sp_r) {
            detail::rng g(o.seed, r);
            detail::rng gw(o.seed, (std::uint64_t{1} << 40) + r);
            detail::rng ga(o.seed, (std::uint64_t{3} << 40) + r);
            for (std::size_t i = 0; i < n; ++i) {
                const double amount =
                    E.own_amount[i] || !draw_amounts ? E.amount[i] : won_amounts[ga.below(won_amounts.size())];
                const double u = g.uniform();
                double c = 0.0;
                for (std::size_t k = 0; k < H; ++k) {
                    c += pw[i * H + k];
                    if (u < c) {
                        wins[k][r] += 1;
                        rev[k][r] += amount;
                        wins[H][r] += 1;
                        rev[H][r] += amount;
                        break;
                    }
                }
                const double sp = std::isnan(sp_r[i]) ? 0.0 : sp_r[i];
                if (gw.uniform() < sp) {
                    ww[r] += 1;
                    wr[r] += amount;
                }
            }
        };
        const unsigned threads = static_cast<unsigned>(std::min<std::size_t>(o.threads, B));
        run_workers(threads, [&](unsigned worker) {
            std::vector<std::uint32_t> mult(p.h.size(), 0);
            std::vector<double> pw(n * H), sp_r(n), prev, cur;
            // Buffers kept from one resample to the next.
            std::vector<transition_model> models;
            std::vector<std::vector<double>> g;
            for (std::size_t b = worker; b < B; b += threads) {
                if (resample) {
                    // Re-estimate the hazards and stage probabilities from a bootstrap resample of
                    // the training entities.
                    detail::rng gb(o.seed, (std::uint64_t{2} << 40) + b);
                    std::fill(mult.begin(), mult.end(), 0u);
                    for (std::size_t k = 0; k < train.size(); ++k) ++mult[train[gb.below(train.size())]];
                    models_at(models, p, v, o, &mult, nullptr);
                    g.resize(models.size());
                    for (std::size_t k = 0; k < models.size(); ++k)
                        won_per_period(models[k], o.periods, o.period_steps, g[k], prev, cur);
                    const auto spr = stage_probabilities(&mult);
                    for (std::size_t i = 0; i < n; ++i) {
                        const std::size_t block = nt * models[model_of[i]].ages();
                        for (std::size_t q = 0; q < H; ++q) pw[i * H + q] = g[model_of[i]][q * block + cell_of[i]];
                        sp_r[i] = spr[static_cast<std::size_t>(p.base_of[static_cast<std::size_t>(v.state[entity_index[i]])])];
                    }
                }
                const double* pwp = resample ? pw.data() : E.p_won_in.data();
                const double* spp = resample ? sp_r.data() : E.stage_probability.data();
                for (std::size_t r = b; r < R; r += B) simulate(r, pwp, spp);
            }
        });
        for (std::size_t k = 0; k <= H; ++k) {
            P.wins_lower[k] = percentile(wins[k], lo_q);
            P.wins_upper[k] = percentile(wins[k], hi_q);
            P.revenue_lower[k] = percentile(rev[k], lo_q);
            P.revenue_upper[k] = percentile(rev[k], hi_q);
        }
        f.weighted_wins_lower = percentile(ww, lo_q);
        f.weighted_wins_upper = percentile(ww, hi_q);
        f.weighted_revenue_lower = percentile(wr, lo_q);
        f.weighted_revenue_upper = percentile(wr, hi_q);
    }

    // Per stage of the overall model. With path memory a stage has several states: P(won) and
    // the time to close from a fresh entry are averaged over them, weighted by their training
    // runs at risk at age 0 (equal weights when none has any).
    const auto& co = outcomes[0];
    const auto& m0 = f.models[0];
    for (std::size_t b = 0; b < nb; ++b) {
        const std::int32_t code = p.base_stage[b];
        f.stages.stage.push_back(code);
        std::int64_t open = 0;
        double amt = 0.0;
        for (std::size_t i = 0; i < n; ++i)
            if (E.stage[i] == code) { ++open; amt += E.amount[i]; }
        f.stages.open.push_back(open);
        f.stages.open_amount.push_back(amt);
        double w_all = 0.0;
        for (std::size_t s = 0; s < nt; ++s)
            if (p.base_of[s] == static_cast<std::int32_t>(b)) w_all += m0.at_risk[s * m0.ages()];
        if (p.visited.empty()) {  // one state per stage
            const auto s = static_cast<std::size_t>(p.state_of[static_cast<std::size_t>(code)]);
            f.stages.p_won.push_back(co.p(s, 0, p.won_index));
            f.stages.expected_steps.push_back(co.steps(s, 0));
            f.stages.stage_probability.push_back(stage_p[b]);
            continue;
        }
        double sw = 0.0, won = 0.0, closes = 0.0, time = 0.0;
        for (std::size_t s = 0; s < nt; ++s) {
            if (p.base_of[s] != static_cast<std::int32_t>(b)) continue;
            const double w = w_all > 0 ? m0.at_risk[s * m0.ages()] : 1.0;
            if (w == 0) continue;
            const double close = 1 - co.p_never[s * co.ages];
            sw += w;
            won += w * co.p(s, 0, p.won_index);
            if (close > 1e-15) {
                closes += w * close;
                time += w * close * co.steps(s, 0);
            }
        }
        f.stages.p_won.push_back(won / sw);
        f.stages.expected_steps.push_back(closes > 0 ? time / closes : std::numeric_limits<double>::quiet_NaN());
        f.stages.stage_probability.push_back(stage_p[b]);
    }
    return f;
}

}  // namespace detail::forecast_impl

FUNNELKIT_INLINE std::string_view to_string(forecast_model m) noexcept {
    return m == forecast_model::markov ? "markov" : "semi_markov";
}

FUNNELKIT_INLINE std::string_view to_string(path_memory m) noexcept {
    return m == path_memory::visited ? "visited" : "none";
}

FUNNELKIT_INLINE std::string_view backtest_method_name(std::int32_t method) noexcept {
    switch (method) {
        case 0: return "markov";
        case 1: return "semi_markov";
        case 2: return "weighted_pipeline";
        default: return "unknown";
    }
}

FUNNELKIT_INLINE void transition_model::validate() const {
    const std::size_t S = n_states(), A = ages(), nt = n_transient();
    if (max_age < 0) detail::throw_option("max_age", std::to_string(max_age), "must be >= 0");
    if (absorbing.empty()) detail::throw_option("absorbing", "0 states", "a chain needs at least one absorbing state");
    if (won_index >= absorbing.size()) detail::throw_option("won_index", std::to_string(won_index), "is not an absorbing state");
    if (!visited.empty() && visited.size() != nt) detail::throw_length("visited", visited.size(), "transient", nt);
    if (hazard.size() != nt * A * S) detail::throw_length("hazard", hazard.size(), "n_transient * ages * n_states", nt * A * S);
    for (std::size_t s = 0; s < nt; ++s)
        for (std::size_t a = 0; a < A; ++a) {
            double sum = 0.0;
            for (std::size_t d = 0; d < S; ++d) {
                const double x = hazard[(s * A + a) * S + d];
                if (!(x >= 0 && x <= 1))
                    detail::throw_at_row("hazard", (s * A + a) * S + d, detail::to_text(x),
                                         "of state " + std::to_string(s) + " at age " + std::to_string(a) + " is not a probability");
                if (d == s && x != 0)
                    detail::throw_at_row("hazard", (s * A + a) * S + d, detail::to_text(x),
                                         "is a move of state " + std::to_string(s) + " to itself (staying is 1 - the row sum)");
                sum += x;
            }
            if (sum > 1 + 1e-9)
                detail::throw_at_row("hazard", (s * A + a) * S, detail::to_text(sum),
                                     "is the sum of the moves of state " + std::to_string(s) + " at age " + std::to_string(a) + ", above 1");
        }
}

FUNNELKIT_INLINE transition_model markov_model(std::size_t nt, std::size_t na, std::span<const double> p, std::size_t won) {
    const std::size_t S = nt + na;
    if (p.size() != nt * S) detail::throw_length("p", p.size(), "n_transient * (n_transient + n_absorbing)", nt * S);
    transition_model m;
    m.kind = forecast_model::markov;
    m.max_age = 0;
    for (std::size_t i = 0; i < nt; ++i) m.transient.push_back(static_cast<std::int32_t>(i));
    for (std::size_t i = 0; i < na; ++i) m.absorbing.push_back(static_cast<std::int32_t>(nt + i));
    m.won_index = won;
    m.hazard.assign(p.begin(), p.end());
    for (std::size_t s = 0; s < nt; ++s) m.hazard[s * S + s] = 0.0;  // the diagonal is the stay
    m.at_risk.assign(nt, 0.0);
    m.moves.assign(nt * S, 0);
    m.validate();
    return m;
}

FUNNELKIT_INLINE chain_outcomes solve_outcomes(const transition_model& m) {
    m.validate();
    const std::size_t nt = m.n_transient(), na = m.absorbing.size(), S = m.n_states(), A = m.ages();
    chain_outcomes out;
    out.n_transient = nt;
    out.n_absorbing = na;
    out.ages = A;
    // X[(s*A + a)*S + d]: the run from age a ends with a move to d; M: E[remaining steps; ends in d].
    std::vector<double> X(nt * A * S, 0.0), M(nt * A * S, 0.0);
    for (std::size_t s = 0; s < nt; ++s) {
        const std::size_t a = A - 1;
        double H = 0.0;
        for (std::size_t d = 0; d < S; ++d) H += m.h(s, a, d);
        if (H > 0)
            for (std::size_t d = 0; d < S; ++d) {
                X[(s * A + a) * S + d] = m.h(s, a, d) / H;
                M[(s * A + a) * S + d] = m.h(s, a, d) / (H * H);
            }
        for (std::size_t b = A - 1; b-- > 0;) {
            double Hb = 0.0;
            for (std::size_t d = 0; d < S; ++d) Hb += m.h(s, b, d);
            for (std::size_t d = 0; d < S; ++d) {
                const double x1 = X[(s * A + b + 1) * S + d], m1 = M[(s * A + b + 1) * S + d];
                X[(s * A + b) * S + d] = m.h(s, b, d) + (1 - Hb) * x1;
                M[(s * A + b) * S + d] = m.h(s, b, d) + (1 - Hb) * (m1 + x1);
            }
        }
    }
    // The jump chain from fresh entries (age 0).
    std::vector<double> q(nt * nt), r(nt * na);
    for (std::size_t s = 0; s < nt; ++s) {
        for (std::size_t j = 0; j < nt; ++j) q[s * nt + j] = X[(s * A) * S + j];
        for (std::size_t o = 0; o < na; ++o) r[s * na + o] = X[(s * A) * S + nt + o];
    }
    // States that can never close (a class of transient states that only move among themselves,
    // e.g. two stages that hand entities back and forth and nothing else) would make I - Q
    // singular: solve on the states that can reach an absorbing state or a run that never ends
    // (a row summing to less than 1), and give the others P(close) = 0.
    std::vector<char> escapes(nt, 0);
    for (std::size_t s = 0; s < nt; ++s) {
        double to_t = 0.0, to_a = 0.0;
        for (std::size_t j = 0; j < nt; ++j) to_t += q[s * nt + j];
        for (std::size_t o = 0; o < na; ++o) to_a += r[s * na + o];
        escapes[s] = to_a > 0 || to_t + to_a < 1 - 1e-12;
    }
    for (bool changed = true; changed;) {
        changed = false;
        for (std::size_t s = 0; s < nt; ++s)
            for (std::size_t j = 0; j < nt && !escapes[s]; ++j)
                if (escapes[j] && q[s * nt + j] > 0) escapes[s] = changed = true;
    }
    std::vector<std::size_t> keep;
    for (std::size_t s = 0; s < nt; ++s)
        if (escapes[s]) keep.push_back(s);
    const std::size_t nk = keep.size();
    std::vector<double> qk(nk * nk), rk(nk * na);
    for (std::size_t i = 0; i < nk; ++i) {
        for (std::size_t j = 0; j < nk; ++j) qk[i * nk + j] = q[keep[i] * nt + keep[j]];
        for (std::size_t o = 0; o < na; ++o) rk[i * na + o] = r[keep[i] * na + o];
    }
    absorbing_chain_solution sol;
    if (nk > 0) sol = solve_absorbing_chain(nk, na, qk, rk);
    // B (absorption from a fresh entry) and c_d: the probability of closing from a fresh entry
    // into d (1 for absorbing states, 0 for states that never close).
    std::vector<double> absorption(nt * na, 0.0);
    std::vector<double> c(S, 1.0);
    for (std::size_t j = 0; j < nt; ++j) c[j] = 0.0;
    for (std::size_t i = 0; i < nk; ++i) {
        double sum = 0.0;
        for (std::size_t o = 0; o < na; ++o) {
            absorption[keep[i] * na + o] = sol.absorption[i * na + o];
            sum += sol.absorption[i * na + o];
        }
        c[keep[i]] = sum;
    }
    // y_j = E[T 1{close} | fresh j] = N m, m_j = sum_d M_j(0, d) c_d (0 where nothing closes).
    std::vector<double> y(nt, 0.0);
    for (std::size_t i = 0; i < nk; ++i)
        for (std::size_t j = 0; j < nk; ++j) {
            double mj = 0.0;
            for (std::size_t d = 0; d < S; ++d) mj += M[(keep[j] * A) * S + d] * c[d];
            y[keep[i]] += sol.fundamental[i * nk + j] * mj;
        }
    out.p_outcome.assign(nt * A * na, 0.0);
    out.p_never.assign(nt * A, 0.0);
    out.expected_steps.assign(nt * A, std::numeric_limits<double>::quiet_NaN());
    for (std::size_t s = 0; s < nt; ++s)
        for (std::size_t a = 0; a < A; ++a) {
            const double* x = &X[(s * A + a) * S];
            const double* mm = &M[(s * A + a) * S];
            double close = 0.0, time = 0.0;
            for (std::size_t o = 0; o < na; ++o) {
                double v = x[nt + o];
                for (std::size_t j = 0; j < nt; ++j) v += x[j] * absorption[j * na + o];
                out.p_outcome[(s * A + a) * na + o] = v;
                close += v;
            }
            for (std::size_t d = 0; d < S; ++d) time += mm[d] * c[d];
            for (std::size_t j = 0; j < nt; ++j) time += x[j] * y[j];
            out.p_never[s * A + a] = std::max(0.0, 1.0 - close);
            if (close > 1e-15) out.expected_steps[s * A + a] = time / close;
        }
    return out;
}

FUNNELKIT_INLINE std::vector<double> won_per_step(const transition_model& m, std::int32_t steps) {
    using namespace detail::forecast_impl;
    m.validate();
    if (steps < 0) detail::throw_option("steps", std::to_string(steps), "must be >= 0");
    const std::size_t block = m.n_transient() * m.ages();
    if (static_cast<double>(steps) * static_cast<double>(block) > 1e8)
        detail::throw_option("steps", std::to_string(steps),
                             "times the states and ages (" + std::to_string(block) + ") is more than 100,000,000 values");
    std::vector<double> g(static_cast<std::size_t>(steps) * block, 0.0);
    const won_recursion rec(m);
    for (std::int32_t t = 1; t <= steps; ++t)
        rec.step(t > 1 ? &g[static_cast<std::size_t>(t - 2) * block] : nullptr, &g[static_cast<std::size_t>(t - 1) * block]);
    return g;
}

FUNNELKIT_INLINE pipeline_forecast forecast_pipeline(const stage_model& model, const stage_records& records,
                                                     const forecast_options& o) {
    using namespace detail::forecast_impl;
    check_options(o);
    const auto p = prepare(model, records, o.as_of, o.memory);
    const std::int64_t origin = o.origin.value_or(p.h.as_of());
    if (origin > p.h.as_of())
        detail::throw_option("origin", std::to_string(origin), "is after the end of the data (as_of " + std::to_string(p.h.as_of()) + ")");
    const auto v = view_at(p, origin, o.step);
    return forecast_at(p, v, origin, o);
}

FUNNELKIT_INLINE explanation pipeline_forecast::explain() const {
    using namespace detail::forecast_impl;
    explanation e;
    e.metric = "pipeline forecast";
    e.formula = options.model == forecast_model::markov
                    ? "absorbing Markov chain per step: N = (I - Q)^-1, B = N R; wins per period = sum over open entities of "
                      "P(won in the period) from the per-step recursion"
                    : "semi-Markov chain: hazards by time in stage from the Aalen-Johansen estimate; absorption from "
                      "the jump chain N = (I - Q)^-1, B = N R; wins per period from the per-step recursion";
    const auto whole = periods.size() - 1;
    e.inputs = {{"origin", origin},
                {"as_of", as_of},
                {"open_entities", static_cast<std::int64_t>(entities.size())},
                {"expected_wins", periods.expected_wins.empty() ? 0.0 : periods.expected_wins[whole]},
                {"wins_lower", periods.wins_lower.empty() ? 0.0 : periods.wins_lower[whole]},
                {"wins_upper", periods.wins_upper.empty() ? 0.0 : periods.wins_upper[whole]},
                {"expected_revenue", periods.expected_revenue.empty() ? 0.0 : periods.expected_revenue[whole]},
                {"weighted_wins", weighted_wins},
                {"weighted_revenue", weighted_revenue},
                {"default_amount", default_amount},
                {"pooled_cells", pooled_cells},
                {"pooled_entities", pooled_entities}};
    e.options = {{"model", to_string(options.model)},
                 {"step", options.step},
                 {"periods", options.periods},
                 {"period_steps", options.period_steps},
                 {"max_age", options.max_age},
                 {"simulations", options.simulations},
                 {"confidence", options.confidence},
                 {"seed", options.seed},
                 {"bootstrap_hazards", options.bootstrap_hazards ? "yes" : "no"},
                 {"bootstrap_models", options.bootstrap_models},
                 {"resample_amounts", options.resample_amounts ? "yes" : "no"},
                 {"by_segment", options.by_segment ? "yes" : "no"},
                 {"memory", to_string(options.memory)}};
    e.note = std::string(options.memory == path_memory::visited
                             ? "the chain's state also holds the set of stages visited before the current stay (path "
                               "memory; cells without history pool the stage's paths); "
                             : "") +
             "only the pipeline open at the origin is forecast; intervals from " + std::to_string(options.simulations) +
             " seeded simulations" +
             (options.bootstrap_hazards
                  ? ", each drawing the entities' outcomes from hazards re-estimated on one of " +
                        std::to_string(std::min(options.simulations, options.bootstrap_models)) +
                        " bootstrap resamples of the training entities (parameter uncertainty)"
                  : std::string(" of the entities' outcomes given the estimated hazards (no parameter uncertainty)")) +
             (options.resample_amounts ? std::string("; an entity without an amount that wins takes the amount of a "
                                                     "random training win (amount uncertainty)")
                                       : std::string()) +
             (options.by_segment ? "; by segment: " + std::to_string(pooled_cells) +
                                       " (stage, age) cells of the segment models had no exposure and use the pooled "
                                       "hazards, for " + std::to_string(pooled_entities) + " open entities"
                                 : std::string()) +
             "; revenue uses the entity's latest known amount (0 is an amount; NaN is none), else the mean won amount "
             "of the training data; weighted pipeline = sum of stage probability x amount "
             "(share won among closed training entities that were in the stage), with no timing";
    return e;
}

FUNNELKIT_INLINE forecast_backtest backtest_forecast(const stage_model& model, const stage_records& records,
                                                     const backtest_options& bo) {
    using namespace detail::forecast_impl;
    check_options(bo.forecast);
    if (bo.calibration_bins < 1 || bo.calibration_bins > 1000)
        detail::throw_option("calibration_bins", std::to_string(bo.calibration_bins), "must be in 1..1000");
    if (bo.origins.empty()) detail::throw_option("origins", "(none)", "give at least one origin");
    const auto p = prepare(model, records, bo.forecast.as_of, bo.forecast.memory);
    const auto& fo = bo.forecast;
    const std::int64_t horizon = horizon_ticks(fo, bo.origins.front());
    for (std::size_t k = 0; k < bo.origins.size(); ++k) {
        if (k > 0 && bo.origins[k] <= bo.origins[k - 1])
            detail::throw_at_row("origins", k, std::to_string(bo.origins[k]), "is not after the previous origin (origins must ascend)");
        if (bo.origins[k] > p.h.as_of() || detail::elapsed_ticks(bo.origins[k], p.h.as_of()) < static_cast<std::uint64_t>(horizon))
            detail::throw_at_row("origins", k, std::to_string(bo.origins[k]),
                                 "leaves less than the horizon (" + std::to_string(horizon) + " ticks) before the end of the data (" +
                                     std::to_string(p.h.as_of()) + ")");
    }
    // An origin before the first record, or with nothing open, has nothing to forecast: its empty
    // cells would count as covered (0 in [0, 0]) and inflate the coverage.
    const auto all_times = p.h.event_times();
    const std::int64_t first = all_times.empty() ? p.h.as_of() : *std::min_element(all_times.begin(), all_times.end());
    for (std::size_t k = 0; k < bo.origins.size(); ++k)
        if (bo.origins[k] < first)
            detail::throw_at_row("origins", k, std::to_string(bo.origins[k]),
                                 "is before the first record (" + std::to_string(first) + "): there is nothing to train on or forecast");
    forecast_backtest out;
    out.options = bo;
    out.as_of = p.h.as_of();
    const std::size_t H = static_cast<std::size_t>(fo.periods);
    const std::int64_t plen = static_cast<std::int64_t>(fo.period_steps) * fo.step;
    const auto off = p.h.offsets();
    const auto times = p.h.event_times();
    const auto stages = p.h.event_stages();
    const std::int32_t won_state = p.won_state();
    // Per-entity calibration data: (method, predicted, won within the horizon).
    std::vector<std::tuple<std::int32_t, double, bool>> cal;
    auto& R = out.rows;
    auto push = [&](std::int64_t origin, std::int32_t method, std::int32_t period, double ew, double wl, double wu,
                    double aw, double er, double rl, double ru, double ar) {
        R.origin.push_back(origin); R.method.push_back(method); R.period.push_back(period);
        R.expected_wins.push_back(ew); R.wins_lower.push_back(wl); R.wins_upper.push_back(wu); R.actual_wins.push_back(aw);
        R.expected_revenue.push_back(er); R.revenue_lower.push_back(rl); R.revenue_upper.push_back(ru); R.actual_revenue.push_back(ar);
    };
    for (std::size_t ok = 0; ok < bo.origins.size(); ++ok) {
        const std::int64_t origin = bo.origins[ok];
        const auto v = view_at(p, origin, fo.step);
        if (std::none_of(v.state.begin(), v.state.end(), [&](std::int32_t st) { return st >= 0 && !p.is_absorbing(st); }))
            detail::throw_at_row("origins", ok, std::to_string(origin), "has no entity open at it: there is nothing to forecast");
        // What the entities open at the origin did: the period of their win, if their first
        // terminal event after the origin is a win within the horizon.
        std::vector<std::int32_t> won_period(p.h.size(), -1);
        std::vector<double> won_amount(p.h.size(), std::numeric_limits<double>::quiet_NaN());
        for (std::size_t i = 0; i < p.h.size(); ++i) {
            const std::int32_t st = v.state[i];
            if (st < 0 || p.is_absorbing(st)) continue;
            for (std::size_t e = off[i]; e < off[i + 1]; ++e) {
                if (times[e] <= origin) continue;
                const std::int32_t s = p.state_of[static_cast<std::size_t>(stages[e])];
                if (!p.is_absorbing(s)) continue;
                if (s == won_state && times[e] <= origin + horizon) {
                    won_period[i] = static_cast<std::int32_t>((times[e] - origin - 1) / plen);
                    won_amount[i] = p.amount_at(i, times[e]);
                }
                break;
            }
        }
        pipeline_forecast fc[2];
        for (int method = 0; method < 2; ++method) {
            forecast_options o = fo;
            o.model = method == 0 ? forecast_model::markov : forecast_model::semi_markov;
            fc[method] = forecast_at(p, v, origin, o);
        }
        const auto& E = fc[0].entities;  // the same open entities in both
        std::vector<double> aw(H + 1, 0.0), ar(H + 1, 0.0);
        std::vector<std::uint8_t> won_in_h(E.size(), 0);
        for (std::size_t k = 0; k < E.size(); ++k) {
            const auto i = static_cast<std::size_t>(
                std::lower_bound(p.h.entities().begin(), p.h.entities().end(), E.entity[k]) - p.h.entities().begin());
            if (won_period[i] < 0) continue;
            const double amount = !std::isnan(won_amount[i]) ? won_amount[i] : E.amount[k];
            aw[static_cast<std::size_t>(won_period[i])] += 1;
            ar[static_cast<std::size_t>(won_period[i])] += amount;
            aw[H] += 1;
            ar[H] += amount;
            won_in_h[k] = 1;
        }
        for (int method = 0; method < 2; ++method) {
            const auto& P = fc[method].periods;
            for (std::size_t q = 0; q <= H; ++q)
                push(origin, method, P.period[q], P.expected_wins[q], P.wins_lower[q], P.wins_upper[q], aw[q],
                     P.expected_revenue[q], P.revenue_lower[q], P.revenue_upper[q], ar[q]);
            const auto& EE = fc[method].entities;
            for (std::size_t k = 0; k < EE.size(); ++k) {
                double ph = 0.0;
                for (std::size_t q = 0; q < H; ++q) ph += EE.p_won_in[k * H + q];
                cal.emplace_back(method, ph, won_in_h[k] != 0);
            }
        }
        const auto& w = fc[1];
        push(origin, 2, -1, w.weighted_wins, w.weighted_wins_lower, w.weighted_wins_upper, aw[H], w.weighted_revenue,
             w.weighted_revenue_lower, w.weighted_revenue_upper, ar[H]);
        for (std::size_t k = 0; k < E.size(); ++k) {
            const double sp = std::isnan(E.stage_probability[k]) ? 0.0 : E.stage_probability[k];
            cal.emplace_back(2, sp, won_in_h[k] != 0);
        }
    }
    // Calibration per method and bin.
    const auto B = static_cast<std::size_t>(bo.calibration_bins);
    for (std::int32_t method = 0; method < 3; ++method) {
        std::vector<std::int64_t> cnt(B, 0);
        std::vector<double> pred(B, 0.0), obs(B, 0.0);
        double brier = 0.0;
        std::int64_t total = 0;
        for (const auto& [m, ph, won] : cal) {
            if (m != method) continue;
            const auto b = std::min(B - 1, static_cast<std::size_t>(std::max(0.0, ph) * static_cast<double>(B)));
            ++cnt[b];
            pred[b] += ph;
            obs[b] += won ? 1.0 : 0.0;
            brier += (ph - (won ? 1.0 : 0.0)) * (ph - (won ? 1.0 : 0.0));
            ++total;
        }
        for (std::size_t b = 0; b < B; ++b) {
            auto& C = out.calibration;
            C.method.push_back(method);
            C.bin.push_back(static_cast<std::int32_t>(b));
            C.lower.push_back(static_cast<double>(b) / static_cast<double>(B));
            C.upper.push_back(static_cast<double>(b + 1) / static_cast<double>(B));
            C.entities.push_back(cnt[b]);
            C.predicted.push_back(cnt[b] ? pred[b] / static_cast<double>(cnt[b]) : std::numeric_limits<double>::quiet_NaN());
            C.observed.push_back(cnt[b] ? obs[b] / static_cast<double>(cnt[b]) : std::numeric_limits<double>::quiet_NaN());
        }
        // Summary over the per-period rows (Markov, semi-Markov) or the whole-horizon rows.
        // Cells with nothing to forecast (expected wins 0) are left out of the coverage: 0 in [0, 0]
        // says nothing about the intervals.
        std::int64_t cells = 0, empty = 0, cov_w = 0, cov_r = 0;
        double mae_w = 0, bias_w = 0, mae_r = 0, bias_r = 0;
        for (std::size_t k = 0; k < R.size(); ++k) {
            if (R.method[k] != method) continue;
            if (method < 2 && R.period[k] < 0) continue;
            ++cells;
            if (R.expected_wins[k] == 0) {
                ++empty;
            } else {
                cov_w += R.actual_wins[k] >= R.wins_lower[k] && R.actual_wins[k] <= R.wins_upper[k];
                cov_r += R.actual_revenue[k] >= R.revenue_lower[k] && R.actual_revenue[k] <= R.revenue_upper[k];
            }
            mae_w += std::fabs(R.expected_wins[k] - R.actual_wins[k]);
            bias_w += R.expected_wins[k] - R.actual_wins[k];
            mae_r += std::fabs(R.expected_revenue[k] - R.actual_revenue[k]);
            bias_r += R.expected_revenue[k] - R.actual_revenue[k];
        }
        auto& S = out.summary;
        const double c = static_cast<double>(std::max<std::int64_t>(cells, 1));
        const std::int64_t checked = cells - empty;
        const double cc = static_cast<double>(std::max<std::int64_t>(checked, 1));
        const bool intervals = fo.simulations > 0;
        S.method.push_back(method);
        S.intervals.push_back(intervals ? checked : 0);
        S.empty_cells.push_back(empty);
        S.coverage_wins.push_back(intervals && checked ? static_cast<double>(cov_w) / cc : std::numeric_limits<double>::quiet_NaN());
        S.coverage_revenue.push_back(intervals && checked ? static_cast<double>(cov_r) / cc : std::numeric_limits<double>::quiet_NaN());
        S.mae_wins.push_back(mae_w / c);
        S.bias_wins.push_back(bias_w / c);
        S.mae_revenue.push_back(mae_r / c);
        S.bias_revenue.push_back(bias_r / c);
        S.brier.push_back(total ? brier / static_cast<double>(total) : std::numeric_limits<double>::quiet_NaN());
    }
    return out;
}

FUNNELKIT_INLINE explanation forecast_backtest::explain() const {
    using namespace detail::forecast_impl;
    explanation e;
    e.metric = "pipeline forecast backtest";
    e.formula = "at each origin: train on the histories up to it, forecast the wins and revenue of the pipeline open "
                "there for the next periods, compare with what those entities did";
    e.inputs = {{"origins", static_cast<std::int64_t>(options.origins.size())}, {"as_of", as_of}};
    for (std::size_t k = 0; k < summary.size(); ++k) {
        const std::string m(backtest_method_name(summary.method[k]));
        e.inputs.emplace_back("intervals " + m, summary.intervals[k]);
        e.inputs.emplace_back("empty_cells " + m, summary.empty_cells[k]);
        e.inputs.emplace_back("coverage_wins " + m, summary.coverage_wins[k]);
        e.inputs.emplace_back("coverage_revenue " + m, summary.coverage_revenue[k]);
        e.inputs.emplace_back("mae_wins " + m, summary.mae_wins[k]);
        e.inputs.emplace_back("bias_wins " + m, summary.bias_wins[k]);
        e.inputs.emplace_back("mae_revenue " + m, summary.mae_revenue[k]);
        e.inputs.emplace_back("bias_revenue " + m, summary.bias_revenue[k]);
        e.inputs.emplace_back("brier " + m, summary.brier[k]);
    }
    e.options = {{"step", options.forecast.step},
                 {"periods", options.forecast.periods},
                 {"period_steps", options.forecast.period_steps},
                 {"max_age", options.forecast.max_age},
                 {"simulations", options.forecast.simulations},
                 {"confidence", options.forecast.confidence},
                 {"seed", options.forecast.seed},
                 {"bootstrap_hazards", options.forecast.bootstrap_hazards ? "yes" : "no"},
                 {"bootstrap_models", options.forecast.bootstrap_models},
                 {"resample_amounts", options.forecast.resample_amounts ? "yes" : "no"},
                 {"by_segment", options.forecast.by_segment ? "yes" : "no"},
                 {"memory", to_string(options.forecast.memory)},
                 {"calibration_bins", options.calibration_bins}};
    e.note = "coverage: share of the intervals at the confidence level that held the actual value (per period for "
             "the chains, whole horizon for the weighted pipeline), leaving out the empty cells (expected wins 0, "
             "nothing to forecast); intervals carry the uncertainty of the hazards (bootstrap of the training "
             "entities) unless bootstrap_hazards is off; errors are expected - actual; calibration pools the "
             "entities of every origin by their predicted probability of a win within the horizon";
    return e;
}

FUNNELKIT_END_NAMESPACE
