// funnelkit: the reverse funnel (revenue goal -> deals -> volume each stage needs), rep
// capacity, goal splits between teams or sources, and time lags between a lead and its win
// (estimation from data, forward projection, backward planning of monthly lead targets).
//
// Rounding to whole entities. A plan asks for whole leads, calls and deals, and must not ask
// for one too many because binary floating point cannot hold the rates exactly:
// 0.5 * 0.6 * 0.5 * (1/3) is 0.049999999999999996, and 50 / that is 1000.0000000000001, whose
// plain ceiling is 1001. ceil_whole() rounds up *unless the value is within a relative
// tolerance of an integer* (default 1e-9 of its magnitude, at least 1e-9 absolute), in which
// case it takes that integer. The products and quotients of a plan carry relative errors of a
// few units of 2^-53 (about 1e-16) per operation, far inside the tolerance, while a genuine
// excess of a billionth of an entity is not a planning quantity. Three rounding modes:
// - plan_rounding::deals_first (the default; formerly named from_goal): the deals are rounded
//   up first, and every stage volume is computed from that whole number of deals and rounded
//   up once: $35,000 at $800 is 43.75 -> 44 deals -> 880 leads at a 5% lead-to-deal rate;
// - plan_rounding::chained: each stage from the rounded volume of the stage below it, which
//   guarantees that every stage's whole volume feeds the next one's whole volume at the given
//   rates (also 880 leads in the example, more in general);
// - plan_rounding::round_once: every figure from the unrounded goal, rounded up once: stage k
//   needs ceil((G / A) / product of rates), so $35,000 at $800 gives 875 leads; per period and
//   per rep too come from the unrounded volume. The smallest whole plan whose *expected*
//   revenue reaches the goal stage by stage; the deals row still shows ceil(G / A).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "funnelkit/config.hpp"
#include "funnelkit/conversion.hpp"
#include "funnelkit/model.hpp"
#include "funnelkit/velocity.hpp"

FUNNELKIT_BEGIN_NAMESPACE

/// Default relative tolerance of ceil_whole.
inline constexpr double whole_tolerance = 1e-9;

/// x rounded up to a whole number, except that a value within `tolerance * max(1, |x|)` of an
/// integer rounds to that integer. Throws on NaN, infinity, or a negative tolerance.
double ceil_whole(double x, double tolerance = whole_tolerance);

/// One funnel stage of a plan and its conversion rate to the next stage (the last step's next
/// stage is the won stage). Rates must be in (0, 1].
struct funnel_step {
    std::string name;
    double rate = 1.0;
};

enum class plan_rounding : std::uint8_t {
    deals_first = 0,
    chained = 1,
    round_once = 2,
    from_goal = deals_first,  ///< former name of deals_first
};
enum class goal_basis : std::uint8_t { total = 0, per_period = 1 };

struct reverse_funnel_options {
    /// Revenue goal, >= 0: over the whole horizon of `periods` periods, or per period.
    double goal = 0.0;
    goal_basis basis = goal_basis::total;
    /// Average deal value (revenue per won deal), > 0.
    double deal_value = 0.0;
    /// Top of the funnel first; steps[k].rate converts stage k into stage k + 1.
    std::vector<funnel_step> steps;
    std::string won_name = "Customer";
    /// Periods the goal covers (e.g. 12 months) and reps sharing the volume.
    std::int32_t periods = 1;
    std::int32_t reps = 1;
    plan_rounding rounding = plan_rounding::deals_first;
    double tolerance = whole_tolerance;
};

struct plan_row {
    std::string name;
    /// Rate to the next stage (empty for the won stage) and the product of rates to won.
    std::optional<double> rate;
    double rate_to_won = 1.0;
    /// Unrounded volume from the unrounded deals, and the whole volume of the plan.
    double exact = 0.0;
    double volume = 0.0;
    /// Whole volume per period and per rep per period (rounded up from `volume`).
    double per_period = 0.0;
    double per_rep_per_period = 0.0;
};

struct reverse_funnel_plan {
    /// Top of the funnel first; the last row is the won stage (the deals).
    std::vector<plan_row> rows;
    double total_goal = 0.0;
    reverse_funnel_options options;
    explanation explain() const;
};

/// The closed-form reverse funnel: deals = ceil_whole(G / A); volume at stage k =
/// ceil_whole(deals / product of rates from k to won) (or chained, or round_once from the
/// unrounded G / A, see above); per period = ceil_whole(volume / periods); per rep per period
/// = ceil_whole(volume / (periods * reps)) (round_once: of the unrounded volume).
/// Throws funnelkit::invalid_argument on a negative or non-finite goal, deal_value <= 0, a
/// rate outside (0, 1] (a rate of 0 needs infinite volume), periods or reps < 1.
reverse_funnel_plan plan_reverse_funnel(const reverse_funnel_options& options);

/// Steps measured from data: the ladder stages of `model` except the won stage, each with its
/// step rate to the next ladder stage from conversion counts. Throws naming the stage when a
/// rate is undefined.
std::vector<funnel_step> steps_from_conversion(const stage_model& model, const conversion_counts& counts,
                                               std::int32_t segment = conversion_counts::overall);

enum class capacity_unit : std::uint8_t { per_week = 0, per_month = 1 };

struct capacity_result {
    double volume_per_month = 0.0;
    double capacity = 0.0;
    capacity_unit unit = capacity_unit::per_month;
    /// capacity converted to a month: per week * 52 / 12.
    double capacity_per_month = 0.0;
    double exact_reps = 0.0;
    double reps = 0.0;
    explanation explain() const;
};

/// Reps needed = ceil_whole(volume per month / capacity per rep per month). Throws on a
/// negative or non-finite volume or capacity <= 0.
capacity_result reps_needed(double volume_per_month, double capacity, capacity_unit unit = capacity_unit::per_month,
                            double tolerance = whole_tolerance);

struct goal_share {
    std::string name;
    double share = 0.0;
};
struct goal_split_row {
    std::string name;
    double share = 0.0;
    double goal = 0.0;
};

/// Splits a goal between teams or sources by shares in [0, 1] that sum to 1 (within 1e-9).
std::vector<goal_split_row> split_goal(double goal, std::span<const goal_share> shares);

// ---- time lags --------------------------------------------------------------------------

/// Leads with the time each came in, the time it was won (missing_time if not, or not yet),
/// optional segment codes (>= 0) and optional won amounts.
struct lag_records {
    std::span<const std::int64_t> created;
    std::span<const std::int64_t> won;
    std::span<const std::int32_t> segment{};
    std::span<const double> amount{};
    std::size_t size() const noexcept { return created.size(); }
};

struct lag_options {
    /// Length of one period in the unit of the times (default: a mean Gregorian month in
    /// seconds, 2,629,746).
    std::int64_t period = 2'629'746;
    /// Largest lag (in periods) the distribution holds; wins later than that are counted in
    /// `beyond` and left out.
    std::int32_t max_lag = 12;
    /// End of the data (exclusive). Only *mature* leads, created at least (max_lag + 1)
    /// periods before it, are used, so that every lag up to max_lag could be observed.
    std::int64_t data_end = 0;
};

struct lag_distribution {
    std::int32_t segment = -1;
    std::int64_t leads = 0;  // mature leads
    std::int64_t wins = 0;   // of them, won within max_lag periods
    std::int64_t beyond = 0; // won later than max_lag periods
    /// wins / leads (empty without mature leads), shares f_0..f_max_lag of the wins by lag
    /// (empty without wins), mean won amount (empty without wins or amounts).
    std::optional<double> win_rate;
    std::vector<double> shares;
    std::optional<double> deal_value;
    std::string reason;  // why something is empty
    explanation explain() const;
};

/// Lag k of a win = floor((won - created) / period). Overall first, then per segment.
std::vector<lag_distribution> estimate_lags(const lag_records& records, const lag_options& options);

/// The lag model: wins(m) = win_rate * sum_k leads(m - k) * shares[k], revenue = wins * value.
struct lag_model {
    double win_rate = 0.0;
    std::vector<double> shares;
    double deal_value = 1.0;
    /// Checks win_rate in (0, 1], shares >= 0 summing to 1 (within 1e-9), deal_value > 0.
    void validate() const;
};

struct projection {
    std::vector<double> wins, revenue;
    /// Part of each month's wins from the leads before month 0 (`history`).
    std::vector<double> from_history;
    explanation explain() const;
};

/// Runs the lag model forward over months 0..leads.size()-1. `history` holds the leads of the
/// months before month 0, oldest first (history.back() is month -1).
projection project_forward(const lag_model& model, std::span<const double> leads,
                           std::span<const double> history = {});

enum class month_status : std::uint8_t {
    met = 0,          // planned wins equal the target
    exceeded = 1,     // the pipeline already in flight gives more than the target
    too_close = 2,    // no lead from now on can close by then (lags shorter than the distance
                      // to that month have share 0) and the history does not cover the target
};
std::string_view to_string(month_status s) noexcept;

struct lead_plan_month {
    double target_revenue = 0.0, target_wins = 0.0;
    double from_history = 0.0;  // wins expected from leads before month 0
    double leads = 0.0;         // planned leads of this month (exact)
    double leads_whole = 0.0;   // ceil_whole(leads)
    double projected_wins = 0.0, projected_revenue = 0.0;
    /// projected - target revenue (< 0: short).
    double gap = 0.0;
    month_status status = month_status::met;
    std::string reason;
};

struct lead_plan {
    std::vector<lead_plan_month> months;
    /// True when every month's target is met or exceeded.
    bool feasible = true;
    /// Smallest lag with a positive share: leads of month j first close in month j + first_lag.
    std::int32_t first_lag = 0;
    explanation explain() const;
};

/// Lead targets per month for revenue targets per month (month 0 = the current month, whose
/// leads can still be planned). Solves the lower-triangular lagged system
/// win_rate * sum_k x(m - k) shares[k] = targets(m)/deal_value - from_history(m) with Eigen.
/// When the exact solution would need negative leads (the pipeline in flight exceeds a
/// month's target), those leads are 0 and later months are solved from there by forward
/// substitution, so every reachable month meets or exceeds its target with no negative lead
/// count. Months closer than the first positive lag cannot be reached (status too_close);
/// leads of the last first_lag months only affect months past the horizon and are 0.
lead_plan plan_leads(const lag_model& model, std::span<const double> revenue_targets,
                     std::span<const double> history = {});

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/planning.ipp"
#endif
