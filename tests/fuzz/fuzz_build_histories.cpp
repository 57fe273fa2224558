// Fuzz target: build_histories() on decoded stage records, then everything computed from
// histories: reach per pass, cohorts and their maturity, flow, time in stage, time to convert,
// stuck entities, the mergeable summary, and the report tables of each (tabulate_*). Checks: reversed rows give the same histories and summary, and the
// summary serialises and loads back.
#include <funnelkit/lifecycle.hpp>

#include <algorithm>
#include <optional>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace funnelkit;
    funnelkit_fuzz::fuzz_input in(data, size);
    const auto model = stage_model::b2b();
    history_options ho;
    if (in.flag()) ho.as_of = in.wide();
    ho.ticks_per_second = in.range(-1, 1000);
    reach_options ro{.skipped = static_cast<skipped_stages>(in.byte() % 2),
                     .passes = static_cast<recycled_passes>(in.byte() % 2)};
    cohort_options co;
    co.stage = static_cast<std::size_t>(in.range(0, 6));
    co.period = static_cast<period_kind>(in.byte() % 6);
    co.ticks_per_second = in.range(0, 3) == 3 ? 1000 : 1;
    co.utc_offset_seconds = in.range(-90000, 90000);
    aging_options ao;
    ao.percentile = in.number();
    for (int k = in.byte() % 8; k > 0; --k) ao.limit.push_back(in.wide());
    lifecycle_table_options to;
    to.by_segment = in.flag();
    to.n_segments = static_cast<std::size_t>(in.range(0, 5));
    to.confidence = in.flag() ? 0.95 : in.number();
    reach_table_options rto{.overall = in.flag(), .groups = in.flag(), .confidence = to.confidence,
                            .interval = static_cast<interval_method>(in.byte() % 5)};
    const std::int64_t maturity = in.wide();
    const bool with_segment = in.flag(), with_reason = in.flag();
    std::vector<std::int64_t> entity, time;
    std::vector<std::int32_t> stage, segment, reason;
    while (!in.empty() && entity.size() < 2048) {
        entity.push_back(in.range(-2, 15));
        time.push_back(in.wide());
        stage.push_back(static_cast<std::int32_t>(in.range(0, 8)));
        if (with_segment) segment.push_back(static_cast<std::int32_t>(in.range(0, 3)));
        if (with_reason) reason.push_back(static_cast<std::int32_t>(in.range(-2, 5)));
    }
    const stage_records records{entity, time, stage, segment, {}, reason};
    std::optional<stage_histories> h;
    if (!funnelkit_fuzz::completes([&] { h.emplace(build_histories(model, records, ho)); })) return 0;
    conversion_counts counts;
    if (funnelkit_fuzz::completes([&] { counts = reach(*h, {}, ro); }))
        (void)funnelkit_fuzz::completes([&] { (void)tabulate_reach(counts, rto); });
    (void)funnelkit_fuzz::completes([&] {
        const auto cohorts = assign_cohorts(*h, co);
        const auto mature = mature_cohorts(cohorts.end, maturity, h->as_of());
        FUZZ_CHECK(mature.size() == cohorts.end.size());
    });
    const auto flow = compute_flow(*h);
    (void)funnelkit_fuzz::completes([&] { (void)tabulate_exits(flow, model, to); });
    (void)funnelkit_fuzz::completes([&] { (void)tabulate_reasons(flow, to); });
    (void)funnelkit_fuzz::completes([&] { (void)tabulate_time_in_stage(*h, to); });
    (void)funnelkit_fuzz::completes([&] { (void)tabulate_time_to_convert(*h, 0, h->n_stages() - 1, to); });
    const auto visits = time_in_stage(*h);
    for (auto d : visits.duration) FUZZ_CHECK(d >= 0);
    for (std::size_t a = 0; a < h->n_stages(); ++a)
        for (std::size_t b = a + 1; b < h->n_stages(); ++b) {
            const auto t = time_to_convert(*h, a, b);
            for (auto d : t.duration) FUZZ_CHECK(d >= 0);
        }
    (void)funnelkit_fuzz::completes([&] { (void)stuck_entities(*h, ao); });
    lifecycle_summary s;
    if (!funnelkit_fuzz::completes([&] { s = summarize(*h, ro); })) return 0;
    const auto blob = s.serialize();
    FUZZ_CHECK(lifecycle_summary::deserialize(blob.data(), blob.size()) == s);
    (void)funnelkit_fuzz::completes([&] { (void)tabulate_summary(s, to); });
    // Row order: reversed rows give the same histories and summary.
    std::vector<std::int64_t> re(entity.rbegin(), entity.rend()), rt(time.rbegin(), time.rend());
    std::vector<std::int32_t> rs(stage.rbegin(), stage.rend()), rg(segment.rbegin(), segment.rend()),
        rr(reason.rbegin(), reason.rend());
    const auto h2 = build_histories(model, {re, rt, rs, rg, {}, rr}, ho);
    FUZZ_CHECK(std::equal(h2.event_times().begin(), h2.event_times().end(), h->event_times().begin(), h->event_times().end()));
    FUZZ_CHECK(std::equal(h2.event_stages().begin(), h2.event_stages().end(), h->event_stages().begin(),
                          h->event_stages().end()));
    FUZZ_CHECK(std::equal(h2.event_reasons().begin(), h2.event_reasons().end(), h->event_reasons().begin(),
                          h->event_reasons().end()));
    FUZZ_CHECK(summarize(h2, ro) == s);
    return 0;
}
