// Definitions for funnelkit/synthetic.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/synthetic.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>

#include "funnelkit/detail/random.hpp"
#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::synthetic_impl {

// Stage codes of stage_model::b2b().
enum : std::int32_t { lead = 0, mql = 1, sal = 2, sql = 3, opportunity = 4, customer = 5, lost = 6, disqualified = 7 };
// Reason codes (indices into sample_reasons()).
enum : std::int32_t {
    r_none = -1, r_spam = 0, r_student = 1, r_poor_fit = 2, r_no_budget = 3, r_duplicate = 4,
    r_price = 5, r_competitor = 6, r_no_decision = 7
};

struct source_profile {
    double share;        // share of all leads
    double p_mql;        // Lead -> MQL
    double p_sal;        // MQL -> SAL (sales accepts)
    double p_sql;        // SAL -> SQL
    double p_opp;        // SQL -> Opportunity
    double p_win;        // Opportunity -> Customer (else Lost)
    double p_skip;       // Lead jumps straight to SQL (referrals)
    double slowness;     // multiplies every delay
    double deal_median;  // median deal value
    std::int32_t first_campaign, n_campaigns;
};

// Webinar, Paid Search, Organic, Referral, Trade Show, Outbound.
inline constexpr std::array<source_profile, 6> profiles{{
    {0.18, 0.55, 0.70, 0.45, 0.55, 0.22, 0.00, 1.6, 22'000, 0, 3},
    {0.26, 0.30, 0.62, 0.50, 0.55, 0.25, 0.00, 1.0, 16'000, 3, 3},
    {0.22, 0.36, 0.70, 0.55, 0.60, 0.27, 0.00, 1.0, 18'000, 6, 2},
    {0.08, 0.70, 0.85, 0.70, 0.70, 0.40, 0.30, 0.8, 30'000, 8, 2},
    {0.10, 0.45, 0.60, 0.40, 0.50, 0.20, 0.00, 1.2, 26'000, 10, 2},
    {0.16, 0.20, 0.55, 0.45, 0.50, 0.18, 0.00, 1.1, 28'000, 12, 2},
}};

// Mean delay in days before each move out of a ladder stage (Lead, MQL, SAL, SQL, Opportunity).
inline constexpr std::array<double, 5> mean_delay_days{6.0, 1.2, 7.0, 10.0, 35.0};
inline constexpr double day = 86'400.0;

struct walker {
    detail::rng& g;
    sample_data& out;
    std::int64_t id, end;
    std::int32_t src, camp, rep;
    const source_profile& p;
    double campaign_lift;
    double amount = 0.0;
    std::int64_t t = 0;

    // Advances the clock by a log-normal delay; false when the move falls past the end.
    bool wait(double mean_days) {
        const double d = g.lognormal_mean(mean_days * p.slowness * day, 0.8);
        const double next = static_cast<double>(t) + std::max(60.0, d);
        if (next >= static_cast<double>(end)) return false;
        t = static_cast<std::int64_t>(next);
        return true;
    }
    void emit(std::int32_t stage, std::int32_t reason = r_none, bool with_amount = false) {
        out.entity.push_back(id);
        out.time.push_back(t);
        out.stage.push_back(stage);
        out.source.push_back(src);
        out.campaign.push_back(camp);
        out.rep.push_back(rep);
        out.reason.push_back(reason);
        out.amount.push_back(with_amount ? amount : 0.0);
    }
    bool disqualify(std::int32_t reason) {
        if (wait(3.0)) emit(disqualified, reason);
        return false;
    }

    void run() {
        emit(lead);
        std::int32_t pos = lead;
        int recycles = 0;
        double damp = 1.0;  // recycled leads re-qualify less often
        if (p.p_skip > 0 && g.bernoulli(p.p_skip)) {
            if (!wait(4.0)) return;
            emit(sql);
            pos = sql;
        }
        for (;;) {
            switch (pos) {
                case lead:
                    if (g.bernoulli(std::min(0.95, p.p_mql * campaign_lift * damp))) {
                        if (!wait(mean_delay_days[0])) return;
                        emit(mql);
                        pos = mql;
                    } else if (recycles == 0 && g.bernoulli(0.25)) {
                        disqualify(g.bernoulli(0.5) ? r_spam : (g.bernoulli(0.5) ? r_student : r_duplicate));
                        return;
                    } else {
                        return;  // stays in nurture: open until the end of the data
                    }
                    break;
                case mql:
                    if (g.bernoulli(p.p_sal)) {
                        if (!wait(mean_delay_days[1])) return;
                        emit(sal);
                        pos = sal;
                    } else if (g.bernoulli(0.6)) {
                        disqualify(r_poor_fit);
                        return;
                    } else {
                        return;
                    }
                    break;
                case sal:
                case sql: {
                    const bool at_sal = pos == sal;
                    if (g.bernoulli(at_sal ? p.p_sql : p.p_opp)) {
                        if (!wait(mean_delay_days[at_sal ? 2 : 3])) return;
                        if (!at_sal) amount = std::round(g.lognormal_mean(p.deal_median * 1.2, 0.6));
                        emit(at_sal ? sql : opportunity, r_none, !at_sal);
                        pos = at_sal ? sql : opportunity;
                    } else if (recycles < 2 && g.bernoulli(0.45)) {
                        if (!wait(5.0)) return;
                        emit(lead);  // handed back to marketing for nurture
                        pos = lead;
                        ++recycles;
                        damp *= 0.6;
                    } else {
                        disqualify(g.bernoulli(0.5) ? r_poor_fit : r_no_budget);
                        return;
                    }
                    break;
                }
                case opportunity:
                    if (!wait(mean_delay_days[4])) return;
                    if (g.bernoulli(p.p_win)) {
                        emit(customer, r_none, true);
                    } else {
                        const double u = g.uniform();
                        emit(lost, u < 0.4 ? r_price : (u < 0.75 ? r_competitor : r_no_decision), true);
                    }
                    return;
                default:
                    return;
            }
        }
    }
};

}  // namespace detail::synthetic_impl

FUNNELKIT_INLINE stage_model sample_model() { return stage_model::b2b(); }

FUNNELKIT_INLINE const std::vector<std::string>& sample_sources() {
    static const std::vector<std::string> v{"Webinar", "Paid Search", "Organic", "Referral", "Trade Show", "Outbound"};
    return v;
}

FUNNELKIT_INLINE const std::vector<std::string>& sample_campaigns() {
    static const std::vector<std::string> v{
        "Webinar: Pipeline Ops", "Webinar: Forecasting 101", "Webinar: RevOps Live",
        "Search: Brand", "Search: Competitor", "Search: Generic",
        "Organic: Blog", "Organic: Guides",
        "Referral: Customers", "Referral: Partners",
        "Trade Show: Spring Expo", "Trade Show: Fall Summit",
        "Outbound: Enterprise", "Outbound: Mid-market"};
    return v;
}

FUNNELKIT_INLINE const std::vector<std::int32_t>& sample_campaign_sources() {
    using namespace detail::synthetic_impl;
    static const std::vector<std::int32_t> v = [] {
        std::vector<std::int32_t> out;
        for (std::size_t s = 0; s < profiles.size(); ++s)
            for (std::int32_t c = 0; c < profiles[s].n_campaigns; ++c) out.push_back(static_cast<std::int32_t>(s));
        return out;
    }();
    return v;
}

FUNNELKIT_INLINE const std::vector<std::string>& sample_reasons() {
    static const std::vector<std::string> v{"spam or invalid", "student or job seeker", "poor fit", "no budget",
                                            "duplicate", "price", "competitor", "no decision"};
    return v;
}

FUNNELKIT_INLINE void generate_sample(const sample_options& o, sample_data& out) {
    using namespace detail::synthetic_impl;
    if (o.leads < 0) detail::throw_option("leads", std::to_string(o.leads), "must be >= 0");
    if (o.first_lead < 0) detail::throw_option("first_lead", std::to_string(o.first_lead), "must be >= 0");
    if (o.days <= 0 || o.days > 36'500) detail::throw_option("days", std::to_string(o.days), "must be in 1..36500");
    if (o.reps < 1) detail::throw_option("reps", std::to_string(o.reps), "must be >= 1");
    const std::int64_t span = o.days * 86'400;
    out.end = o.start + span;
    // About 2.4 rows per lead: reserving 2.5 avoids the vectors' doubling (which would hold
    // up to twice the output) while wasting little.
    const auto expected = out.size() + static_cast<std::size_t>(static_cast<double>(o.leads) * 2.5) + 16;
    // Appending chunk after chunk grows by at least half, so repeated calls stay linear.
    auto reserve = [&](auto& v) {
        if (v.capacity() < expected) v.reserve(std::max(expected, v.size() + v.size() / 2));
    };
    reserve(out.entity); reserve(out.time); reserve(out.stage); reserve(out.source);
    reserve(out.campaign); reserve(out.rep); reserve(out.reason); reserve(out.amount);
    for (std::int64_t k = 0; k < o.leads; ++k) {
        const std::int64_t id = o.first_lead + k;
        detail::rng g(o.seed, static_cast<std::uint64_t>(id));
        double u = g.uniform();
        std::int32_t src = 0;
        while (src + 1 < static_cast<std::int32_t>(profiles.size()) && u >= profiles[static_cast<std::size_t>(src)].share) {
            u -= profiles[static_cast<std::size_t>(src)].share;
            ++src;
        }
        const source_profile& p = profiles[static_cast<std::size_t>(src)];
        const auto ci = static_cast<std::int32_t>(g.below(static_cast<std::uint64_t>(p.n_campaigns)));
        // The first campaign of each source converts better than the last.
        const double lift = p.n_campaigns == 1 ? 1.0 : 1.15 - 0.3 * ci / (p.n_campaigns - 1);
        walker w{g, out, id, out.end, src, p.first_campaign + ci,
                 static_cast<std::int32_t>(g.below(static_cast<std::uint64_t>(o.reps))), p, lift};
        w.t = o.start + static_cast<std::int64_t>(g.uniform() * static_cast<double>(span));
        w.run();
    }
}

FUNNELKIT_INLINE const std::vector<std::string>& sample_channels() {
    static const std::vector<std::string> v{"Webinar", "Paid Search", "Organic", "Referral", "Trade Show",
                                            "Outbound", "Email", "Social", "Retargeting"};
    return v;
}

FUNNELKIT_INLINE sample_touch_data generate_sample_touches(const sample_data& crm, std::uint64_t seed) {
    using namespace detail::synthetic_impl;
    constexpr std::int32_t email = 6, social = 7, retargeting = 8;
    // Channels of touches before a lead comes in, and of nurture touches after: cumulative
    // shares over (Paid Search, Organic, Social, Retargeting, Webinar) and (Email, Webinar,
    // Retargeting, Social, Trade Show).
    constexpr std::array<std::int32_t, 5> before{1, 2, social, retargeting, 0};
    constexpr std::array<double, 5> before_cdf{0.30, 0.60, 0.80, 0.95, 1.0};
    constexpr std::array<std::int32_t, 5> nurture{email, 0, retargeting, social, 4};
    constexpr std::array<double, 5> nurture_cdf{0.45, 0.65, 0.80, 0.92, 1.0};
    auto pick = [](detail::rng& g, const auto& codes, const auto& cdf) {
        const double u = g.uniform();
        std::size_t i = 0;
        while (i + 1 < cdf.size() && u >= cdf[i]) ++i;
        return codes[i];
    };
    sample_touch_data out;
    const std::size_t n = crm.size();
    out.path.reserve(n * 2);
    std::size_t i = 0;
    std::int64_t previous = std::numeric_limits<std::int64_t>::min();
    while (i < n) {
        const std::int64_t id = crm.entity[i];
        if (id <= previous)
            detail::throw_at_row("entity", i, std::to_string(id), "is out of order: rows must be grouped by ascending entity");
        previous = id;
        std::size_t j = i;
        std::int64_t opp_time = -1, won_time = -1, last_time = crm.time[i];
        double won_value = 0.0;
        for (; j < n && crm.entity[j] == id; ++j) {
            last_time = crm.time[j];
            if (crm.stage[j] == opportunity && opp_time < 0) opp_time = crm.time[j];
            if (crm.stage[j] == customer) { won_time = crm.time[j]; won_value = crm.amount[j]; }
        }
        const std::int64_t t0 = crm.time[i];
        detail::rng g(seed ^ 0x7a11c4e5ULL, static_cast<std::uint64_t>(id));
        auto touch = [&](std::int64_t t, std::int32_t ch, std::uint8_t role) {
            out.path.push_back(id);
            out.time.push_back(t);
            out.channel.push_back(ch);
            out.milestone.push_back(role);
        };
        const auto n_before = g.below(4);
        std::vector<std::int64_t> times;
        for (std::uint64_t k = 0; k < n_before; ++k) times.push_back(t0 - 1 - static_cast<std::int64_t>(g.uniform() * 30 * 86'400.0));
        std::sort(times.begin(), times.end());
        for (std::int64_t t : times) touch(t, pick(g, before, before_cdf), 0);
        touch(t0, crm.source[i], 1);
        const std::int64_t nurture_end = opp_time >= 0 ? opp_time : last_time;
        const auto n_nurture = nurture_end > t0 ? g.below(5) : 0;
        times.clear();
        for (std::uint64_t k = 0; k < n_nurture; ++k)
            times.push_back(t0 + 1 + static_cast<std::int64_t>(g.uniform() * static_cast<double>(nurture_end - t0 - 1)));
        std::sort(times.begin(), times.end());
        for (std::int64_t t : times) touch(t, pick(g, nurture, nurture_cdf), 0);
        if (opp_time >= 0) touch(opp_time, pick(g, nurture, nurture_cdf), 2);
        out.outcome_path.push_back(id);
        out.converted.push_back(won_time >= 0 ? 1 : 0);
        out.value.push_back(won_time >= 0 ? won_value : 0.0);
        out.conversion_time.push_back(won_time >= 0 ? won_time : last_time);
        i = j;
    }
    return out;
}

FUNNELKIT_INLINE sample_data generate_sample(const sample_options& options) {
    sample_data out;
    generate_sample(options, out);
    return out;
}

FUNNELKIT_END_NAMESPACE
