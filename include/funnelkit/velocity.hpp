// funnelkit: sales velocity V = N * D * W / L per period and per segment, its bootstrap
// confidence interval, and the split of a change of V between two periods into its drivers.
//
// Definitions (every choice is an option of velocity_options, reported by explain()):
// - N, one of (count_basis):
//   * average_open (the default): the time-averaged open pipeline over the period [start, end),
//     the integral of the number of open opportunities (created, not yet closed) over the
//     period divided by its length. By Little's law the open pipeline equals the arrival rate
//     times the time an opportunity stays open, so N * D * W / L is the won revenue per unit of
//     time in a steady state;
//   * open_at_start: opportunities open at the period's start (created before `start` and not
//     closed before it), also divided by L;
//   * created_per_period: opportunities created in the period; N * D * W is then revenue *per
//     period*, and V = N * D * W / (period length), not / L;
//   * vendor: created in the period and divided by L, the formula as vendors print it. It
//     overstates revenue per unit of time by the ratio period length / L;
//   * created_in_period (deprecated): the former name of the vendor figure, kept with its
//     former meaning (created in the period, divided by L) so that old callers get the same
//     numbers; use vendor (the same figure) or created_per_period (per period).
// - The deals that measure D, W and L are the opportunities *closed* (won or lost) in the
//   period: closed time in [start, end).
// - D: mean amount of the won deals.
// - W: won / (won + lost) by count, or (win_rate_basis::value) won amount / (won + lost amount).
// - L: per deal, (closed - start of the cycle) / time_unit, where the cycle starts at creation,
//   at the SQL time or at the first touch (optional columns); over won deals only or over all
//   closed deals; the mean or the median. Deals without the chosen start time are left out of
//   L and counted in cycle_missing.
// - V = N * D * W / L (or / period length, see N), revenue per unit (per day by default);
//   velocity_per_period = V * period length. Beside it, as a check, the realised won revenue
//   per unit: the amount of the deals won in the period / the period length.
// Undefined inputs are never NaN in disguise: each optional is empty and `status`/`reason`
// say why (no won deal: D undefined; no closed deal: W undefined; no cycle: L undefined;
// L = 0: V undefined).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "funnelkit/columns.hpp"
#include "funnelkit/config.hpp"
#include "funnelkit/model.hpp"
#include "funnelkit/period.hpp"

FUNNELKIT_BEGIN_NAMESPACE

/// One input or option value of an explanation: a number, an integer (a count, a code, a
/// time), a text, or undefined (an empty optional: a rate or statistic that does not exist for
/// these inputs). Converts implicitly from each of these, so explanations list values as they
/// are computed.
class explanation_value {
public:
    enum class kind : std::uint8_t { number = 0, integer = 1, text = 2, undefined = 3 };

    explanation_value(double v) noexcept : kind_(kind::number), number_(v) {}
    explanation_value(const std::optional<double>& v) noexcept
        : kind_(v ? kind::number : kind::undefined), number_(v.value_or(0.0)) {}
    template <std::integral T>
        requires(!std::same_as<T, bool>)
    explanation_value(T v) : kind_(kind::integer), text_(std::to_string(v)) {}
    explanation_value(std::string v) noexcept : kind_(kind::text), text_(std::move(v)) {}
    explanation_value(std::string_view v) : kind_(kind::text), text_(v) {}
    explanation_value(const char* v) : kind_(kind::text), text_(v) {}
    explanation_value(bool) = delete;

    kind type() const noexcept { return kind_; }
    /// The number (kind::number only; NaN or an infinity are possible).
    double number() const noexcept { return number_; }
    /// For people: numbers with ten significant digits, integers exactly, "undefined".
    std::string text() const;
    /// JSON: a number in the shortest form that reads back as the same double (null for NaN and
    /// infinities), an integer exactly, a string for text, null when undefined.
    std::string json() const;

    friend bool operator==(const explanation_value&, const explanation_value&) = default;

private:
    kind kind_;
    double number_ = 0.0;
    std::string text_;  // the text, or an integer's decimal digits
};

/// How a result was computed, for display beside the number: the formula, the inputs with
/// their values and the options.
struct explanation {
    std::string metric;
    std::string formula;
    std::vector<std::pair<std::string, explanation_value>> inputs;
    std::vector<std::pair<std::string, explanation_value>> options;
    std::string note;

    /// Multi-line human-readable text.
    std::string text() const;
    /// A JSON object {"metric": text, "formula": text, "inputs": {name: value, ...},
    /// "options": {name: value, ...}, "note": text}, values as explanation_value::json writes them.
    std::string json() const;
};

/// Time value meaning "absent" in optional time columns (not closed, never touched, no SQL).
inline constexpr std::int64_t missing_time = std::numeric_limits<std::int64_t>::min();

/// Outcome codes of opportunity_records::outcome.
enum class deal_outcome : std::int8_t { open = 0, won = 1, lost = 2 };

/// Non-owning columns of opportunity records, one row per opportunity. Times are integers in
/// any unit (seconds by default: see velocity_options::time_unit). `closed` is ignored for
/// open deals. `segment` (codes >= 0), `sql_time` and `first_touch` are optional: leave empty
/// when absent; missing_time marks a row without that time.
struct opportunity_records {
    std::span<const std::int64_t> created;
    std::span<const std::int64_t> closed;
    std::span<const std::int8_t> outcome;
    std::span<const double> amount;
    std::span<const std::int32_t> segment{};
    std::span<const std::int64_t> sql_time{};
    std::span<const std::int64_t> first_touch{};

    std::size_t size() const noexcept { return created.size(); }
    /// Checks lengths, outcome codes, amounts (finite, >= 0), segment codes (>= 0), created not
    /// missing, closed >= created for closed deals, cycle starts not after the close. Throws
    /// funnelkit::invalid_argument naming the column, row and value. Returns the number of
    /// segments (largest code + 1; 0 without a segment column).
    std::int32_t validate() const;
};

/// Owning opportunity columns (e.g. derived from stage-change records).
struct opportunity_table {
    std::vector<std::int64_t> entity, created, closed, sql_time, first_touch;
    std::vector<std::int8_t> outcome;
    std::vector<double> amount;
    std::vector<std::int32_t> segment;

    std::size_t size() const noexcept { return created.size(); }
    opportunity_records records() const noexcept {
        return {created, closed, outcome, amount, segment, sql_time, first_touch};
    }
};

/// One opportunity per entity that entered `opportunity_stage`: created = its first entry,
/// closed/outcome from its first won or lost record after that (won = the model's won stage,
/// lost = any stage of kind lost), amount = the amount of the closing record (or of the
/// opportunity record while open), sql_time = first entry into `sql_stage` (missing_time when
/// none or the name is empty), first_touch = the entity's earliest record, segment = the
/// segment code of the earliest record (smallest code among ties; the segment column stays
/// empty when the records have none). Rows come in entity order. Validates the records first.
opportunity_table opportunities_from_stages(const stage_model& model, const stage_records& records,
                                            std::string_view opportunity_stage = "Opportunity",
                                            std::string_view sql_stage = "SQL");

enum class count_basis : std::uint8_t {
    /// Deprecated: the vendor figure under its former name (N created in the period, over L).
    created_in_period = 0,
    open_at_start = 1,
    average_open = 2,
    vendor = 3,
    /// N created in the period; V = N * D * W / period length (N * D * W is revenue per period).
    created_per_period = 4,
};
enum class win_rate_basis : std::uint8_t { count = 0, value = 1 };
enum class cycle_start : std::uint8_t { created = 0, sql = 1, first_touch = 2 };
enum class cycle_deals : std::uint8_t { won = 0, closed = 1 };
enum class cycle_statistic : std::uint8_t { mean = 0, median = 1 };

/// The option words, as explanations print them: count_basis "created_in_period" (deprecated),
/// "open_at_start", "average_open", "vendor", "created_per_period"; win_rate_basis "count", "value"; cycle_start "created", "sql",
/// "first_touch"; cycle_deals "won", "closed"; cycle_statistic "mean", "median". Each parser
/// takes its option's words (what to_string gives) and throws funnelkit::invalid_argument
/// naming the option, the value and the accepted words otherwise.
std::string_view to_string(count_basis b) noexcept;
std::string_view to_string(win_rate_basis b) noexcept;
std::string_view to_string(cycle_start b) noexcept;
std::string_view to_string(cycle_deals b) noexcept;
std::string_view to_string(cycle_statistic b) noexcept;
count_basis parse_count_basis(std::string_view name);
win_rate_basis parse_win_rate_basis(std::string_view name);
cycle_start parse_cycle_start(std::string_view name);
cycle_deals parse_cycle_deals(std::string_view name);
cycle_statistic parse_cycle_statistic(std::string_view name);

struct velocity_options {
    count_basis count = count_basis::average_open;
    win_rate_basis win_rate = win_rate_basis::count;
    cycle_start cycle_from = cycle_start::created;
    /// All closed deals by default: Little's law needs the mean time open of every deal (won or
    /// lost), the same population N counts.
    cycle_deals cycle_over = cycle_deals::closed;
    cycle_statistic cycle_stat = cycle_statistic::mean;
    /// Length of one unit of L in the time unit of the columns (86400: days from seconds).
    double time_unit = 86'400.0;
    /// Name of that unit, for explanations ("day").
    std::string unit_name = "day";
    /// End of the data: the latest time the records observed (default: the latest time in them,
    /// created, closed, SQL or first touch). A period running past it is partial: N keeps the
    /// deals open after the data ends and the realised revenue has not happened yet, so its V
    /// and realised are not comparable with full periods (velocity_result::partial says so).
    std::optional<std::int64_t> as_of{};
    /// Bootstrap replicates for the confidence interval of V (0: no interval).
    std::int32_t bootstrap = 0;
    double confidence = 0.95;
    std::uint64_t seed = 42;
};

enum class velocity_status : std::uint8_t {
    ok = 0,
    no_won_deals = 1,     // D undefined
    no_closed_deals = 2,  // W undefined
    no_cycle = 3,         // L undefined: no deal with a measurable cycle
    zero_cycle = 4,       // L = 0: V would be infinite
};
std::string_view to_string(velocity_status s) noexcept;

struct velocity_result {
    /// Index into the periods passed in, and segment code (-1: all opportunities).
    std::size_t period_index = 0;
    std::int32_t segment = -1;
    period interval{};
    /// N: a count, or (average_open) the time-averaged number of open opportunities.
    double n = 0.0;
    std::int64_t won = 0, lost = 0;
    /// Length of the period in units of L (end - start) / time_unit.
    double period_length = 0.0;
    /// Won revenue realised in the period per unit: won_amount / period_length.
    double realised = 0.0;
    /// The end of the data (options.as_of or the latest time in the records), the share of the
    /// period up to it (0..1), and whether the period runs past it (observed < 1).
    std::int64_t as_of = 0;
    double observed = 1.0;
    bool partial = false;
    double won_amount = 0.0, lost_amount = 0.0;
    /// Deals whose cycle entered L, and deals left out for lack of the chosen start time.
    std::int64_t cycle_deals = 0, cycle_missing = 0;
    std::optional<double> deal_value, win_rate, cycle_length, velocity;
    /// V * period_length: revenue per period (N * D * W with created_per_period).
    std::optional<double> velocity_per_period;
    velocity_status status = velocity_status::ok;
    std::string reason;
    /// Percentile bootstrap interval of V, with the number of replicates where V was undefined
    /// (left out of the percentiles).
    std::optional<double> ci_lower, ci_upper;
    std::int32_t bootstrap_undefined = 0;
    velocity_options options{};

    bool defined() const noexcept { return status == velocity_status::ok; }
    explanation explain() const;
};

/// Velocity per period and per segment. `periods` must be sorted by start and must not
/// overlap. Throws funnelkit::invalid_argument on invalid records or options, and when a sum
/// of amounts or cycle lengths, a cycle length or V itself would be beyond the largest double
/// (never an infinity in disguise); a bootstrap replicate that would be is counted undefined. Results come period by period, overall (segment -1) first, then segments 0, 1, ...
/// One pass over the records, with a binary search of the periods per time; a bootstrap adds
/// one pass per (period, segment) cell to collect its deals, then `bootstrap` resamples of
/// them (each cell draws from its own stream of detail::rng keyed by the seed and the cell).
/// The resampling runs over the cell's deals sorted by their content (counted in N, outcome,
/// amount, cycle length), so the interval depends only on the deals as a set and the seed:
/// every row order gives the same bounds, bit for bit. Cycle lengths are computed from the
/// exact integer difference of the two times, whatever their magnitude.
std::vector<velocity_result> velocity(const opportunity_records& records, std::span<const period> periods,
                                      const velocity_options& options = {});

[[deprecated("use velocity")]]
inline std::vector<velocity_result> compute_velocity(const opportunity_records& records,
                                                     std::span<const period> periods,
                                                     const velocity_options& options = {}) {
    return velocity(records, periods, options);
}

/// V = n * deal_value * win_rate / cycle_length for given inputs (the DOMAIN example:
/// 40, 25000, 0.25, 90 -> 2777.78). Throws on negative or non-finite inputs, a win rate above
/// 1, or cycle_length <= 0.
double velocity_formula(double n, double deal_value, double win_rate, double cycle_length);

/// The split of V1 - V0 into the four drivers.
/// Log scale: ln V1 - ln V0 = ln(N1/N0) + ln(D1/D0) + ln(W1/W0) - ln(L1/L0) exactly.
/// Additive (LMDI-I): weight L(V1, V0) = (V1 - V0) / (ln V1 - ln V0), with L(a, a) = a, and
/// contribution of x = weight * ln(x1/x0) (minus for L); the four sum to V1 - V0.
/// The weight is computed as V0 * expm1(s) / s with s the sum of the four log ratios, so the
/// identity holds to rounding and equal values need no special case beyond s = 0.
/// Shapley: V = N * D * W * (1/L) is a product of four factors; the Shapley contribution of a
/// factor is its marginal change (from its value in period 0 to period 1) averaged over the
/// 4! orders in which the factors could change:
/// phi_x = sum over subsets S of the other three |S|! (3 - |S|)! / 4! * (V(S + x at 1) - V(S at 1)),
/// the others at their period-0 values. The four sum exactly to V1 - V0 (in exact arithmetic).
struct velocity_decomposition {
    double v0 = 0.0, v1 = 0.0;
    double log_n = 0.0, log_d = 0.0, log_w = 0.0, log_l = 0.0;  // log_l = -ln(L1/L0)
    double weight = 0.0;
    double n = 0.0, d = 0.0, w = 0.0, l = 0.0;  // additive contributions
    double shapley_n = 0.0, shapley_d = 0.0, shapley_w = 0.0, shapley_l = 0.0;  // Shapley contributions
    double inputs0[4]{}, inputs1[4]{};          // N, D, W, L of each period

    double change() const noexcept { return v1 - v0; }
    explanation explain() const;
};

/// The inputs are checked as velocity_formula checks them (one routine), and must also be > 0
/// (a driver of 0 has no logarithm: the split is undefined): a value that is not finite, not
/// positive, or a win rate above 1 throws funnelkit::invalid_argument naming the row ("before"
/// for period 0, "after" for period 1) and the field ("n", "deal_value", "win_rate",
/// "cycle_length").
velocity_decomposition decompose_velocity(double n0, double d0, double w0, double l0, double n1,
                                          double d1, double w1, double l1);
/// From two defined results; throws naming the undefined one, and when the two were computed
/// with different options (count, win_rate, cycle_from, cycle_over, cycle_stat, time_unit),
/// naming the first option that differs: drivers on different bases do not split. L is the
/// denominator V used: the cycle length, or the period length with count_basis::created_per_period.
velocity_decomposition decompose_velocity(const velocity_result& before, const velocity_result& after);

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/velocity.ipp"
#endif
