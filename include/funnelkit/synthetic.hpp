// funnelkit: a deterministic synthetic CRM data set, the sample data of the demo, the tests and
// the benchmarks.
//
// Leads arrive uniformly over a period from six sources, each with its own campaigns,
// conversion probabilities, speed and deal size, and walk the b2b() stage model: Lead -> MQL ->
// SAL -> SQL -> Opportunity -> Customer, with disqualification (with a reason), recycling from
// SAL or SQL back to Lead, referral leads that skip straight to SQL, lost deals (with a reason)
// and log-normal delays between moves. Moves that would happen after the end of the period are
// not emitted, so entities still open at the end are right-censored, as in a real CRM export.
//
// Every lead draws from its own random stream, keyed by (seed, lead id): the output does not
// depend on how generation is split, so generating ids [0, a) and [a, n) and concatenating
// gives exactly the rows of generating [0, n). Memory is the output columns only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "funnelkit/columns.hpp"
#include "funnelkit/config.hpp"
#include "funnelkit/model.hpp"

FUNNELKIT_BEGIN_NAMESPACE

struct sample_options {
    /// Number of leads (entities) to generate, with ids first_lead .. first_lead + leads - 1.
    std::int64_t leads = 10'000;
    std::int64_t first_lead = 0;
    std::uint64_t seed = 42;
    /// Start of the period, seconds since the Unix epoch (default 2024-01-01T00:00:00Z).
    std::int64_t start = 1'704'067'200;
    /// Length of the period in days; leads arrive uniformly over it and the data ends with it.
    std::int64_t days = 365;
    /// Number of sales reps; each lead is assigned one at random.
    std::int32_t reps = 12;
};

/// Owning columns of generated stage-change records, rows ordered by (entity, time).
/// Codes: `stage` indexes sample_model(); `source`, `campaign` and `reason` index
/// sample_sources(), sample_campaigns() and sample_reasons(); `reason` is -1 where the move
/// has no reason; `amount` is the deal value on Opportunity, Customer and Lost rows and 0
/// elsewhere; times are seconds since the Unix epoch.
struct sample_data {
    std::vector<std::int64_t> entity;
    std::vector<std::int64_t> time;
    std::vector<std::int32_t> stage;
    std::vector<std::int32_t> source;
    std::vector<std::int32_t> campaign;
    std::vector<std::int32_t> rep;
    std::vector<std::int32_t> reason;
    std::vector<double> amount;
    /// End of the observation period (exclusive): every time is below it.
    std::int64_t end = 0;

    std::size_t size() const noexcept { return entity.size(); }
    /// A view with `source` as the segment column, `amount` and `reason` attached.
    stage_records records() const noexcept { return {entity, time, stage, source, amount, reason}; }
};

/// The stage model of the sample data: stage_model::b2b().
stage_model sample_model();
const std::vector<std::string>& sample_sources();
const std::vector<std::string>& sample_campaigns();
/// Source code of each campaign code.
const std::vector<std::int32_t>& sample_campaign_sources();
const std::vector<std::string>& sample_reasons();

/// Marketing touches of the sample's leads, for attribution: one row per touch (path = the
/// lead's entity id, time, channel code indexing sample_channels(), milestone 1 on the lead's
/// creation touch and 2 on the opportunity's creation touch, 0 otherwise), and one outcome row
/// per lead (converted when it became a customer, value = the won amount, conversion_time).
/// Leads see 0-3 touches in the 30 days before they come in, a creation touch in their source's
/// channel, 0-4 nurture touches until their opportunity (or the end of the data) and a
/// creation touch of the opportunity. Deterministic per (seed, lead id).
struct sample_touch_data {
    std::vector<std::int64_t> path;
    std::vector<std::int64_t> time;
    std::vector<std::int32_t> channel;
    std::vector<std::uint8_t> milestone;
    std::vector<std::int64_t> outcome_path;
    std::vector<std::uint8_t> converted;
    std::vector<double> value;
    std::vector<std::int64_t> conversion_time;
};
/// Channels of the touches: the six sources, then Email, Social and Retargeting.
const std::vector<std::string>& sample_channels();
/// Touches of the leads in `crm` (rows grouped by entity, as generate_sample() makes them;
/// throws funnelkit::invalid_argument otherwise).
sample_touch_data generate_sample_touches(const sample_data& crm, std::uint64_t seed = 42);

/// Generates the sample; throws funnelkit::invalid_argument on negative counts or days, or
/// reps < 1.
sample_data generate_sample(const sample_options& options = {});
/// Appends the sample's rows to `out` (for chunked generation into existing columns).
void generate_sample(const sample_options& options, sample_data& out);

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/synthetic.ipp"
#endif
