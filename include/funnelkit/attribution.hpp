// funnelkit: attribution of conversions and revenue to the marketing touches on each entity's
// path.
//
// Input is columnar. Touches: one row per touch, with the path (entity) id, the touch time
// (any integer unit; it also orders the touches of a path, ties by channel code, then
// milestone, so that the order of the rows never matters) and a channel code (>= 0; -1 marks
// a null touch, which is dropped). Outcomes: one row per path,
// with a conversion flag and the converted value (revenue; use 1 to attribute conversions
// only), and optionally the conversion time (used by time decay; default: the time of the
// path's last touch).
//
// Rules every model follows:
// - Only converting paths hand out credit. Each converting path with at least one non-null
//   touch distributes exactly 1 conversion and exactly its value over its touches; the
//   credits of every model therefore sum to the attributed conversions and value.
// - A converting path with no non-null touch (no touches, or only null touches) cannot be
//   attributed: its conversion and value are reported as `unattributed_*`, never dropped
//   silently, and total = attributed + unattributed.
// - A path id in the touches without an outcome row is a non-converting path. Outcome rows
//   with a repeated path id are an error.
// - Position-based models: weights of positions a short path does not have are
//   redistributed over the positions it has, in proportion to their weights (so U-shaped
//   40/20/40 gives 50/50 on a two-touch path and 100% on a one-touch path). A touch filling
//   several roles (e.g. the first touch that also created the lead in the W shape) receives
//   the sum of their weights.
// - Markov removal effects and Shapley values are computed over all paths (converting or not)
//   and then scale the total converted value; see each option.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string_view>
#include <vector>

#include "funnelkit/config.hpp"
#include "funnelkit/detail/exact_sum.hpp"

FUNNELKIT_BEGIN_NAMESPACE

/// Roles a touch may play in the W-shaped model (the `milestone` column).
enum class touch_milestone : std::uint8_t { none = 0, lead_created = 1, opportunity_created = 2 };

/// Non-owning view of touches. `milestone` is optional (required by the W-shaped model):
/// values from touch_milestone.
struct touch_columns {
    std::span<const std::int64_t> path;
    std::span<const std::int64_t> time;
    std::span<const std::int32_t> channel;
    std::span<const std::uint8_t> milestone{};
    std::size_t size() const noexcept { return path.size(); }
};

/// Non-owning view of per-path outcomes. `converted` is 0 or 1; `value` finite and >= 0
/// (empty: every conversion is worth 1); `conversion_time` optional.
struct outcome_columns {
    std::span<const std::int64_t> path;
    std::span<const std::uint8_t> converted;
    std::span<const double> value{};
    std::span<const std::int64_t> conversion_time{};
    std::size_t size() const noexcept { return path.size(); }
};

/// Touches grouped by path and ordered by time, with null touches removed, joined to their
/// outcomes: the prepared input of every model. Build once, attribute with many models.
class path_set {
public:
    /// Validates and groups. Throws funnelkit::invalid_argument naming the column, row and
    /// value for mismatched lengths, channel codes < -1 or >= n_channels (when n_channels >
    /// 0), unknown milestone codes, converted flags other than 0/1, negative or non-finite
    /// values, repeated outcome path ids, or a touch later than its path's conversion time.
    /// `n_channels` = 0 means "largest channel code + 1". Touches go through the grouping
    /// primitive (grouping.hpp) on `threads` worker threads (>= 1); the paths are the same for
    /// every row order and thread count.
    path_set(const touch_columns& touches, const outcome_columns& outcomes, std::int32_t n_channels = 0,
             unsigned threads = 1);

    std::size_t n_paths() const noexcept { return offsets_.size() - 1; }
    std::int32_t n_channels() const noexcept { return n_channels_; }
    bool has_milestones() const noexcept { return has_milestones_; }

    /// Touches of path p (0 <= p < n_paths()), in time order.
    std::span<const std::int32_t> channels(std::size_t p) const noexcept {
        return {channel_.data() + offsets_[p], channel_.data() + offsets_[p + 1]};
    }
    std::span<const std::int64_t> times(std::size_t p) const noexcept {
        return {time_.data() + offsets_[p], time_.data() + offsets_[p + 1]};
    }
    std::span<const std::uint8_t> milestones(std::size_t p) const noexcept {
        if (!has_milestones_) return {};
        return {milestone_.data() + offsets_[p], milestone_.data() + offsets_[p + 1]};
    }
    bool converted(std::size_t p) const noexcept { return converted_[p] != 0; }
    double value(std::size_t p) const noexcept { return value_[p]; }
    std::int64_t conversion_time(std::size_t p) const noexcept { return conv_time_[p]; }
    std::int64_t path_id(std::size_t p) const noexcept { return ids_[p]; }

    /// Converting paths without any non-null touch: counted here, not in n_paths().
    double unattributed_conversions() const noexcept { return unattributed_conversions_; }
    double unattributed_value() const noexcept { return unattributed_value_; }
    /// The values of those paths, in the order met (for exact, order-free sums).
    std::span<const double> unattributed_values() const noexcept { return unattributed_values_; }

private:
    std::int32_t n_channels_ = 0;
    bool has_milestones_ = false;
    std::vector<std::size_t> offsets_{0};
    std::vector<std::int32_t> channel_;
    std::vector<std::int64_t> time_;
    std::vector<std::uint8_t> milestone_;
    std::vector<std::int64_t> ids_;
    std::vector<std::uint8_t> converted_;
    std::vector<double> value_;
    std::vector<std::int64_t> conv_time_;
    double unattributed_conversions_ = 0.0;
    double unattributed_value_ = 0.0;
    std::vector<double> unattributed_values_;
};

/// Declared in markov.hpp (conversions = 0, value = 1); named here by the options.
enum class markov_weight : std::uint8_t;

enum class attribution_model : std::uint8_t {
    first_touch,
    last_touch,
    linear,
    u_shaped,     ///< position weights first / middle / last (default 0.4 / 0.2 / 0.4)
    w_shaped,     ///< first touch, lead creation, opportunity creation, the rest (0.3/0.3/0.3/0.1)
    time_decay,   ///< weight 2^(-age / half_life), normalised per path
    position,     ///< custom head / middle / tail weights
    markov,       ///< removal effect of an order-k Markov chain (see markov.hpp)
    shapley,      ///< Shapley values of a cooperative game over channel sets
};

/// "first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay", "position",
/// "markov", "shapley".
std::string_view to_string(attribution_model m) noexcept;
/// Inverse of to_string; throws funnelkit::invalid_argument on an unknown name.
attribution_model parse_attribution_model(std::string_view name);

/// The game whose Shapley values the shapley model reports.
/// - covered_value: v(S) = converted value of the paths whose channel set is a subset of S.
///   Its Shapley value has a closed form: each converting path gives its value in equal parts
///   to its distinct channels.
/// - value_rate: v(S) = converted value per path among the paths whose channel set is a
///   subset of S (0 when there is none), i.e. the paths' value rate; the Shapley values
///   (which may be negative for a channel that lowers the rate) are scaled so that they sum
///   to the total converted value. Undefined (all zero) when v(all channels) = 0.
enum class shapley_game : std::uint8_t { covered_value = 0, value_rate = 1 };

struct attribution_options {
    attribution_model model = attribution_model::linear;
    /// U shape: first, middle (shared equally by the touches between), last.
    double u_first = 0.4, u_middle = 0.2, u_last = 0.4;
    /// W shape: first touch, lead-creation touch, opportunity-creation touch, the rest (shared
    /// equally). The lead-creation touch is the first touch marked lead_created (the first
    /// touch when none is marked); the opportunity-creation touch is the first touch marked
    /// opportunity_created (the last touch when none is marked). Requires milestones.
    double w_first = 0.3, w_lead = 0.3, w_opportunity = 0.3, w_rest = 0.1;
    /// Time decay half-life, in the unit of the time columns; > 0. Age = conversion time -
    /// touch time.
    double half_life = 7.0 * 86'400.0;
    /// Custom positions: head[i] is the weight of the i-th touch, tail[i] of the i-th touch
    /// from the end, `middle` is shared equally by the touches in neither. On short paths the
    /// head claims touches first, then the tail; missing positions are renormalised away.
    std::vector<double> head{}, tail{};
    double middle = 0.0;
    /// Markov chain order, 1 to 3.
    int markov_order = 1;
    /// Markov: `conversions` splits conversions and value by the removal effects of P(convert);
    /// `value` (ChannelAttribution's convention) splits the value by the value-weighted removal
    /// effects of E[value] (markov.hpp) and the conversions by those of P(convert).
    /// (Value-initialised: conversions.)
    markov_weight markov_weighting{};
    shapley_game game = shapley_game::covered_value;
    /// Exact Shapley values up to this many channels present on paths (at most 20), sampled
    /// permutations above.
    int shapley_exact_max = 15;
    std::int64_t shapley_samples = 2000;
    std::uint64_t seed = 1;
    /// Worker threads for grouping touches into paths (>= 1; attribute() from columns). Changes
    /// no result and is not part of a state's options.
    unsigned threads = 1;
};

struct attribution_result {
    attribution_model model = attribution_model::linear;
    /// Per channel code: attributed conversions and attributed value.
    std::vector<double> conversions;
    std::vector<double> value;
    /// Sums over converting paths with touches (equal to the sums of the vectors above, up to
    /// rounding) and the part that had no touch to credit.
    double total_conversions = 0.0, total_value = 0.0;
    double unattributed_conversions = 0.0, unattributed_value = 0.0;
    std::int64_t paths = 0, converting_paths = 0;
    /// markov: removal effect per channel, 1 - P(convert without c) / P(convert), in [0, 1]
    /// (with markov_weight::value, the value-weighted 1 - E[value without c] / E[value]);
    /// shapley: the raw Shapley value per channel (before scaling). Empty otherwise.
    std::vector<double> score;
    /// markov: P(convert) of the full chain; shapley: v(all channels).
    double base = 0.0;
    /// shapley: true when the values are exact, false when sampled.
    bool exact = true;
};

/// A distinct path of an attribution state: how many paths, how many of them converted, and
/// their converted value (an exact sum).
struct attribution_path_totals {
    std::int64_t paths = 0, conversions = 0;
    detail::exact_sum value{};
    friend bool operator==(const attribution_path_totals&, const attribution_path_totals&) = default;
};

/// Mergeable state of attribute(): what the chosen model needs of a set of paths, every sum
/// exact, so that the result of merged states (paths partitioned by id) equals the result of
/// all the paths, to the last bit, whatever the order of the rows or the partitioning.
/// - rule-based models (and shapley with the covered_value game, whose values have a closed
///   form): the credits per channel, exact sums of each path's credits;
/// - markov: the distinct channel sequences with their path and conversion counts;
/// - shapley (value_rate): the distinct channel sets with their path and conversion counts and
///   converted value.
/// The result is computed from the state (attribute(const attribution_state&)). States record
/// their options: merging states of different options is an error naming the option. Merging
/// states of fewer channels pads them with channels that have no credit.
class attribution_state {
public:
    attribution_state() = default;
    /// An empty state of these options (validated) over `n_channels` channels.
    attribution_state(const attribution_options& options, std::int32_t n_channels);

    const attribution_options& options() const noexcept { return options_; }
    bool records_options() const noexcept { return recorded_; }
    std::int32_t n_channels() const noexcept { return n_channels_; }
    std::int64_t paths() const noexcept { return paths_; }
    std::int64_t converting_paths() const noexcept { return converting_paths_; }
    std::int64_t unattributed_conversions() const noexcept { return unattributed_conversions_; }
    double total_value() const noexcept { return total_value_.value(); }
    double unattributed_value() const noexcept { return unattributed_value_.value(); }
    /// Distinct sequences (markov) or sets (shapley, value_rate) of channel codes.
    const std::map<std::vector<std::int32_t>, attribution_path_totals>& table() const noexcept { return table_; }

    /// Adds the paths of a path set (validating the options against it as attribute() does).
    void add(const path_set& paths);
    /// Throws funnelkit::invalid_argument, leaving this state unchanged, when an option differs
    /// ("cannot merge attribution_state: half_life differs (...)") or a count would overflow.
    void merge(const attribution_state& other);
    attribution_state& operator+=(const attribution_state& other) { merge(other); return *this; }
    void reset();

    std::vector<std::byte> serialize() const;
    static attribution_state deserialize(const void* data, std::size_t size);
    friend bool operator==(const attribution_state& a, const attribution_state& b);

private:
    friend attribution_result attribute(const attribution_state& state);
    bool recorded_ = false;
    attribution_options options_{};
    std::int32_t n_channels_ = 0;
    std::int64_t paths_ = 0, converting_paths_ = 0, unattributed_conversions_ = 0;
    detail::exact_sum total_value_{}, unattributed_value_{};
    std::vector<detail::exact_sum> conversions_, value_;
    std::map<std::vector<std::int32_t>, attribution_path_totals> table_;
};

/// The state of a path set under the options.
attribution_state attribution_sums(const path_set& paths, const attribution_options& options = {});
/// The attribution of a state's paths with the state's options (attribute(paths, options)
/// is attribute(attribution_sums(paths, options))).
attribution_result attribute(const attribution_state& state);

/// Attributes every converting path's conversion and value with the chosen model. Throws
/// funnelkit::invalid_argument (naming the option) on invalid options: negative or
/// all-zero weights, a non-positive or non-finite half-life, markov_order outside 1..3,
/// w_shaped without milestones, shapley_exact_max outside 0..20, shapley_samples < 1.
attribution_result attribute(const path_set& paths, const attribution_options& options = {});
attribution_result attribute(const touch_columns& touches, const outcome_columns& outcomes,
                             const attribution_options& options = {});

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/attribution.ipp"
#endif
