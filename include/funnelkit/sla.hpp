// funnelkit: service level agreements between marketing and sales as data, and their
// compliance evaluated against records, as of a point in time.
//
// Response SLAs ("follow up every MQL within 24 hours", "3 touches within 7 days"): an item
// (lead, MQL) starts the clock at `created`; its deadline is created + limit (inclusive).
// - met:      the k-th touch came at or before the deadline;
// - breached: the k-th touch came after the deadline (touched late), or fewer than k touches
//             by `as_of` and the deadline has passed (untouched beyond the limit);
// - pending:  fewer than k touches by `as_of` and the deadline has not passed yet. Pending
//             items are not breaches: compliance = met / (met + breached).
// "How far over" is k-th touch - deadline, or as_of - deadline while still untouched.
// Evaluation is as of `as_of`: touches after it are ignored and items created after it are
// not counted (reported in `not_started`), so historical data can be replayed at any date.
//
// Volume SLAs ("100 leads per rep per month", "20 contacts per rep per week"): per period and
// per rep, delivered = events in [start, min(end, as_of)); committed = target (per rep; the
// team row commits target * reps). A finished period (as_of >= end) is met when delivered >=
// committed and breached otherwise; a running one is pending, with pacing = delivered /
// (committed * elapsed share) and a linear forecast = delivered / elapsed share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "funnelkit/config.hpp"
#include "funnelkit/velocity.hpp"

FUNNELKIT_BEGIN_NAMESPACE

enum class sla_kind : std::uint8_t { response = 0, volume = 1 };
enum class sla_status : std::int8_t { met = 0, breached = 1, pending = 2, not_started = 3 };
std::string_view to_string(sla_status s) noexcept;

/// One commitment of one team, as data.
struct sla_commitment {
    std::string name;
    /// The team that owes it ("sales", "marketing").
    std::string team;
    sla_kind kind = sla_kind::response;
    /// Response: `touches` touches within `limit` (time units of the records) of the start.
    std::int64_t limit = 0;
    std::int32_t touches = 1;
    /// Volume: `target` events per rep per period.
    double target = 0.0;
    /// Name of the time unit of the records and how many of them make one display unit of
    /// "over" (e.g. "hour", 3600 for records in seconds).
    std::string unit_name = "hour";
    double display_unit = 3600.0;

    /// Throws funnelkit::invalid_argument naming the field on a bad value.
    void validate() const;
};

/// Items whose response is measured. `first_touch` (missing_time: untouched) serves SLAs of
/// one touch; touches of SLAs with more are passed separately. rep, team and segment are
/// optional group codes (>= 0).
struct response_records {
    std::span<const std::int64_t> created;
    std::span<const std::int64_t> first_touch{};
    std::span<const std::int32_t> rep{};
    std::span<const std::int32_t> team{};
    std::span<const std::int32_t> segment{};
    std::size_t size() const noexcept { return created.size(); }
};

/// Touch events: item = row of the response records, time of the touch.
struct touch_records {
    std::span<const std::int64_t> item;
    std::span<const std::int64_t> time;
    std::size_t size() const noexcept { return item.size(); }
};

/// Counts of one group ("all", "rep", "team" or "segment" with its code; code -1 for "all").
struct sla_group {
    std::string by = "all";
    std::int32_t code = -1;
    std::int64_t met = 0, breached = 0, pending = 0, not_started = 0;
    /// Breaches among them that are still untouched.
    std::int64_t breached_untouched = 0;
    /// met / (met + breached); empty when nothing is decided yet.
    std::optional<double> compliance;
    /// Mean and largest time over the limit among breaches, in display units (0 without any).
    /// Formed from the exact integer sum as a reduced fraction of ticks, so they depend only on
    /// the instants: not on the row order, nor on the time unit they are written in.
    double mean_over = 0.0, max_over = 0.0;
};

struct sla_breach {
    std::size_t row = 0;
    std::int32_t rep = -1, team = -1, segment = -1;
    std::int64_t created = 0, deadline = 0;
    /// Time over the deadline, in record units and in display units.
    std::int64_t over = 0;
    double over_display = 0.0;
    bool touched = false;
};

struct response_sla_result {
    sla_commitment commitment;
    std::int64_t as_of = 0;
    /// Status per item row.
    std::vector<sla_status> status;
    /// "all" first, then per rep, team and segment code for the columns given.
    std::vector<sla_group> groups;
    /// Breaches in row order.
    std::vector<sla_breach> breaches;
    explanation explain() const;
};

/// Evaluates a response SLA. With `touches` empty, the first_touch column is used (and the
/// commitment must ask for 1 touch). Throws funnelkit::invalid_argument on mismatched
/// lengths, negative codes, a touch before its item's creation, a touch item out of range.
response_sla_result sla_response(const sla_commitment& commitment, const response_records& records,
                                 std::int64_t as_of, const touch_records& touches = {});

[[deprecated("use sla_response")]]
inline response_sla_result evaluate_response(const sla_commitment& commitment, const response_records& records,
                                             std::int64_t as_of, const touch_records& touches = {}) {
    return sla_response(commitment, records, as_of, touches);
}

/// Events that count towards a volume SLA (leads delivered, contacts made), with the rep each
/// belongs to (codes 0..reps-1).
struct volume_records {
    std::span<const std::int64_t> time;
    std::span<const std::int32_t> rep;
    std::size_t size() const noexcept { return time.size(); }
};

struct volume_row {
    std::size_t period_index = 0;
    period interval{};
    /// -1 for the team total.
    std::int32_t rep = -1;
    double committed = 0.0;
    double delivered = 0.0;
    /// Share of the period elapsed at as_of, in [0, 1].
    double elapsed = 0.0;
    double expected_to_date = 0.0;
    /// delivered / expected_to_date (empty before the period starts).
    std::optional<double> pacing;
    /// delivered / elapsed (empty before the period starts).
    std::optional<double> forecast;
    sla_status status = sla_status::pending;
    /// committed - delivered when breached, committed - forecast when behind, else 0.
    double shortfall = 0.0;
    /// For running periods: forecast >= committed.
    bool on_track = true;
};

struct volume_sla_result {
    sla_commitment commitment;
    std::int64_t as_of = 0;
    std::int32_t reps = 0;
    /// Per period: the team total first, then reps 0..reps-1.
    std::vector<volume_row> rows;
    /// Rows (of reps and totals) whose period ended short of the commitment.
    std::vector<volume_row> breaches;
    explanation explain() const;
};

/// Evaluates a volume SLA over periods (sorted, not overlapping) for `reps` reps.
volume_sla_result sla_volume(const sla_commitment& commitment, const volume_records& records,
                             std::span<const period> periods, std::int64_t as_of, std::int32_t reps);

[[deprecated("use sla_volume")]]
inline volume_sla_result evaluate_volume(const sla_commitment& commitment, const volume_records& records,
                                         std::span<const period> periods, std::int64_t as_of, std::int32_t reps) {
    return sla_volume(commitment, records, periods, as_of, reps);
}

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/sla.ipp"
#endif
