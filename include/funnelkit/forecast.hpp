// funnelkit: a pipeline forecast from stage histories. A transition model is estimated from the
// histories up to a forecast origin, the open pipeline at the origin is run forward through it,
// and a backtest compares such forecasts with what happened next.
//
// The chain. Time runs in steps of `step` ticks (a day by default) on a grid anchored at the
// origin: the snapshots are origin - k * step. An entity's state at a snapshot is the stage of its
// last event at or before it (histories order events as lifecycle.hpp describes). Terminal stages
// (won, lost, disqualified) are absorbing; every other stage is transient, and moves between
// transient stages in any direction (recycling) are allowed. A run is a stretch of consecutive
// snapshots in one transient stage; its age at a snapshot is the number of steps already spent
// in the stage. From snapshot to snapshot an entity at transient stage s and age a moves to stage
// d with probability h_s(a, d), or stays (and its age grows by one).
// Path memory (forecast_options::memory = path_memory::visited, the default): the transient
// states are (stage, set of stages visited before the current run), as they occur in the
// histories (the set grows when a run of records of another stage ends, read from the events,
// so a visit between two snapshots counts). A recycled lead or a deal that skipped the early
// stages is then a state of its own; "stage s" below means such a state. A (state, age) cell
// without training history takes the hazards of its stage pooled over all its states at that
// age, each move sent to the state of the destination stage whose set adds this stage. The
// stage table and the weighted pipeline stay per stage.
// - Markov (forecast_model::markov): h does not depend on the age. h_s(d) = moves from s to d /
//   entity-steps at risk in s, the occurrence/exposure estimate of the per-step transition
//   matrix ("counts of moves per step from each transient stage").
// - Semi-Markov (forecast_model::semi_markov): h_s(a, d) is the discrete hazard of leaving s for d
//   at age a, read from the Aalen-Johansen estimate (survival.hpp) of the runs of s, with the
//   destinations as competing outcomes and the runs still open at the origin censored:
//   h_s(a, d) = d_{d, a+1} / n_{a+1}. Ages from max_age on share one pooled hazard (moves at those
//   ages / steps at risk at those ages), so the tail is memoryless. Deals that sit too long in a
//   stage then carry the low hazards of old runs, which a plain chain averages away.
// Absorbing chain. From a fresh entry into s (age 0), X_s(d) is the probability that the run ends
// with a move to d; Q (transient to transient) and R (transient to absorbing) of this jump chain
// give the fundamental matrix N = (I - Q)^-1 and the absorption probabilities B = N R
// (markov.hpp's solve_absorbing_chain). For the Markov model this is the DOMAIN chain: its B and
// expected steps t = N 1 equal those of the per-step matrix. An entity at (s, a) is won with
// probability X_{s,a}(won) + sum_j X_{s,a}(j) B(j, won). When some runs never end (a stage whose
// hazards are 0 from some age on), part of the mass never closes; the expected time to close is
// then the mean over the paths that close (E[T 1{close}] / P(close)).
// Forecast. The probability g_t(s, a) that an entity at (s, a) is won at step t comes from the
// backward recursion g_1 = h(a, won), g_t = sum_j h(a, j) g_{t-1}(j, 0) + (1 - H(a)) g_{t-1}(s, a+1),
// H the total hazard. Summed over the steps of each period it gives each open entity's chance of
// being won in that period; expected wins and revenue per period add these up (revenue with the
// entity's latest known amount, or the mean won amount of the training data when it has none).
// Intervals come from a seeded simulation that carries the sources of uncertainty: the training
// entities are resampled with replacement (bootstrap_models resamples over the entities in
// ascending id order, so the row order of the input never changes a result), the hazards are
// re-estimated from each resample (from the counts of runs by length, which are sufficient),
// each open entity's chances are recomputed from them, and simulation r draws every open
// entity's outcome from resample r mod bootstrap_models. An entity without an amount of its own
// that wins takes the amount of a random training win (resample_amounts). Without the
// resampling (bootstrap_hazards = false) the intervals carry only the outcome randomness given
// the estimated hazards, and are too narrow. Simulations run on `threads` threads, each from its
// own seeded stream: the same numbers for any thread count.
// by_segment: a segment's model uses its own hazards where the segment has exposure; a (stage,
// age) cell of it without any entity-step at risk falls back to the pooled model's hazards
// (no history is not evidence that a deal never moves); the entities report the steps at risk
// behind their cell and whether it fell back.
// The weighted pipeline beside it: each open entity's stage probability (the share won among the
// training entities that were in that stage and have closed) times its amount, without timing.
// Only the pipeline open at the origin is forecast; entities that arrive later are not.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "funnelkit/columns.hpp"
#include "funnelkit/config.hpp"
#include "funnelkit/model.hpp"
#include "funnelkit/velocity.hpp"

FUNNELKIT_BEGIN_NAMESPACE

enum class forecast_model : std::uint8_t { markov = 0, semi_markov = 1 };
std::string_view to_string(forecast_model m) noexcept;

/// What the chain's state remembers of an entity's path besides its stage and the time in it.
/// none: nothing. visited: the set of transient stages it has been in before the current run
/// (a fresh lead and a lead handed back from sales are different states, and so are deals that
/// skipped the early stages and deals that went through them).
enum class path_memory : std::uint8_t { none = 0, visited = 1 };
std::string_view to_string(path_memory m) noexcept;

/// An estimated (or hand-built) transition model. States are the model's stage codes: transient
/// ones (non-terminal stages) and absorbing ones (terminal stages). Ages run 0..max_age; the row
/// of age max_age holds the pooled hazard of every age >= max_age (max_age = 0: a Markov chain).
struct transition_model {
    forecast_model kind = forecast_model::markov;
    std::int32_t max_age = 0;
    /// Stage codes of the transient and absorbing states, ascending; won_index indexes absorbing.
    /// With path memory a stage has one transient state per set of stages visited before.
    std::vector<std::int32_t> transient, absorbing;
    /// Path memory: per transient state, the stages visited before its run (bit c: stage code
    /// c); empty without path memory.
    std::vector<std::uint64_t> visited;
    std::size_t won_index = 0;
    /// hazard[((s * (max_age + 1)) + a) * n_states() + d]: probability that an entity at
    /// transient state s (index into transient) and age a is in state d at the next step, d
    /// indexing transient states first, then absorbing ones. The stay probability is 1 - the row sum.
    std::vector<double> hazard;
    /// Entity-steps at risk behind each (s, a) row, and the moves counted on it (n_states() each).
    std::vector<double> at_risk;
    std::vector<std::int64_t> moves;
    /// Segment the model was estimated on (-1: every entity).
    std::int32_t segment = -1;
    /// Per (s, a) row: 1 when the segment had no exposure there and the row holds the pooled
    /// model's hazards (empty for the pooled model and hand-built ones).
    std::vector<std::uint8_t> pooled;

    std::size_t n_transient() const noexcept { return transient.size(); }
    std::size_t n_states() const noexcept { return transient.size() + absorbing.size(); }
    std::size_t ages() const noexcept { return static_cast<std::size_t>(max_age) + 1; }
    double h(std::size_t s, std::size_t age, std::size_t d) const noexcept {
        const std::size_t a = age < ages() ? age : ages() - 1;
        return hazard[(s * ages() + a) * n_states() + d];
    }
    /// Checks sizes, probabilities in [0, 1], row sums <= 1 (+1e-9), no move from a state to
    /// itself; throws funnelkit::invalid_argument naming the state and age.
    void validate() const;
};

/// A Markov model from a per-step matrix over transient + absorbing states (row-major
/// n_transient x (n_transient + n_absorbing), diagonal = stay); codes are 0..n-1, won the
/// absorbing state `won`. For hand-built chains and tests.
transition_model markov_model(std::size_t n_transient, std::size_t n_absorbing, std::span<const double> p,
                              std::size_t won = 0);

/// Outcomes of the absorbing chain from every (transient state, age): probability of each
/// absorbing state, of never closing, and the expected steps to close among the paths that
/// close (NaN when none closes).
struct chain_outcomes {
    std::size_t n_transient = 0, n_absorbing = 0, ages = 0;
    /// p_outcome[(s * ages + a) * n_absorbing + o]
    std::vector<double> p_outcome;
    std::vector<double> p_never;
    std::vector<double> expected_steps;
    double p(std::size_t s, std::size_t age, std::size_t o) const noexcept {
        return p_outcome[(s * ages + std::min(age, ages - 1)) * n_absorbing + o];
    }
    double steps(std::size_t s, std::size_t age) const noexcept { return expected_steps[s * ages + std::min(age, ages - 1)]; }
};
chain_outcomes solve_outcomes(const transition_model& m);

/// g[(t - 1) * (n_transient * ages) + s * ages + a]: probability that an entity at (s, a) now is
/// won at step t = 1..steps (absorbed into the won state between snapshot t-1 and t).
std::vector<double> won_per_step(const transition_model& m, std::int32_t steps);

struct forecast_options {
    forecast_model model = forecast_model::semi_markov;
    /// Length of one step, in ticks of the time column (86,400: a day in seconds).
    std::int64_t step = 86'400;
    /// Forecast origin = end of the training data; default: the end of the data (as_of).
    std::optional<std::int64_t> origin{};
    /// End of the observation (histories' as_of); default: the latest record.
    std::optional<std::int64_t> as_of{};
    /// Horizon: `periods` periods of `period_steps` steps each.
    std::int32_t periods = 3;
    std::int32_t period_steps = 30;
    /// Semi-Markov: ages (in steps, at most 10,000) with hazards of their own; older runs share one.
    std::int32_t max_age = 90;
    /// Simulations for the intervals (0: none), their confidence level and seed.
    std::int32_t simulations = 2000;
    double confidence = 0.8;
    std::uint64_t seed = 42;
    /// Parameter uncertainty in the intervals: each simulation re-estimates the hazards (and the
    /// weighted pipeline's stage probabilities) from a bootstrap resample of the training
    /// entities. false: outcome randomness only.
    bool bootstrap_hazards = true;
    /// Bootstrap resamples behind the intervals (>= 1): simulation r uses resample
    /// r mod min(bootstrap_models, simulations), so the model fits stay bounded as the outcome
    /// draws grow.
    std::int32_t bootstrap_models = 200;
    /// Amount uncertainty: an open entity without an amount of its own that wins in a simulation
    /// takes the amount of a training win drawn at random (their mean is the default amount used
    /// by the expected revenue); false: always the mean won amount.
    bool resample_amounts = true;
    /// One transition model per segment (the segment of each entity's earliest record).
    bool by_segment = false;
    /// Path memory of the state (see path_memory). A (state, age) cell with no training
    /// history takes the hazards of its stage pooled over every path at that age. With
    /// `visited`, histories with more than 256 (stage, visited set) states are refused (use
    /// none).
    path_memory memory = path_memory::visited;
    /// Worker threads of the simulations (>= 1). Every simulation draws from its own seeded
    /// stream, so the results do not depend on the number of threads.
    unsigned threads = 1;
};

struct forecast_entity_rows {
    std::vector<std::int64_t> entity;
    std::vector<std::int32_t> segment, stage;
    /// Steps already spent in the current stage at the origin.
    std::vector<std::int64_t> age;
    /// Amount used for revenue, and whether it is the entity's own (else the mean won amount).
    std::vector<double> amount;
    std::vector<std::uint8_t> own_amount;
    std::vector<double> p_won, p_lost, p_never, expected_steps;
    /// p_won_in[i * periods + p]: won in period p of the horizon.
    std::vector<double> p_won_in;
    /// The weighted pipeline's stage probability.
    std::vector<double> stage_probability;
    /// Entity-steps at risk behind the entity's (stage, age) cell of the model used, and whether
    /// that cell fell back to the pooled model (by_segment, a segment without exposure there).
    std::vector<double> at_risk;
    std::vector<std::uint8_t> pooled;
    std::size_t size() const noexcept { return entity.size(); }
};

struct forecast_period_rows {
    /// Period index (-1: the whole horizon), start and end times [start, end) after the origin.
    std::vector<std::int32_t> period;
    std::vector<std::int64_t> start, end;
    std::vector<double> expected_wins, wins_lower, wins_upper;
    std::vector<double> expected_revenue, revenue_lower, revenue_upper;
    std::size_t size() const noexcept { return period.size(); }
};

/// Per transient stage of the overall model: open entities at the origin and their amount,
/// the probability of being won from a fresh entry (age 0), the expected steps to close from
/// there, and the weighted pipeline's stage probability (NaN without closed training entities).
struct forecast_stage_rows {
    std::vector<std::int32_t> stage;
    std::vector<std::int64_t> open;
    std::vector<double> open_amount, p_won, expected_steps, stage_probability;
    std::size_t size() const noexcept { return stage.size(); }
};

struct pipeline_forecast {
    std::int64_t origin = 0, as_of = 0;
    forecast_options options;
    /// The overall model, then one per segment with by_segment.
    std::vector<transition_model> models;
    forecast_entity_rows entities;
    forecast_period_rows periods;
    forecast_stage_rows stages;
    /// Mean won amount of the training data (revenue of entities without an amount).
    double default_amount = 0.0;
    /// The weighted pipeline: sum of stage probability x amount, its expected wins, and its
    /// simulated interval (no timing: the whole horizon).
    double weighted_revenue = 0.0, weighted_wins = 0.0;
    double weighted_revenue_lower = 0.0, weighted_revenue_upper = 0.0, weighted_wins_lower = 0.0,
           weighted_wins_upper = 0.0;
    /// by_segment: (stage, age) cells of the segment models that fell back to the pooled hazards,
    /// and open entities whose cell did.
    std::int64_t pooled_cells = 0, pooled_entities = 0;
    explanation explain() const;
};

/// Forecast of the pipeline open at the origin. Validates the records (throws
/// funnelkit::invalid_argument naming the column, row and value) and the options.
pipeline_forecast forecast_pipeline(const stage_model& model, const stage_records& records,
                                    const forecast_options& options = {});

struct backtest_options {
    /// The forecast settings (its model and origin are not used: both models run at every origin).
    forecast_options forecast{};
    /// Origins, ascending; each origin + horizon must be at or before as_of, no origin before the
    /// first record, and some entity open at each.
    std::vector<std::int64_t> origins;
    /// Equal-width bins of the predicted probability of a win within the horizon.
    std::int32_t calibration_bins = 10;
};

/// One row per (origin, method, period): method 0 Markov, 1 semi-Markov, 2 weighted pipeline
/// (whole horizon only, period -1).
struct backtest_rows {
    std::vector<std::int64_t> origin;
    std::vector<std::int32_t> method, period;
    std::vector<double> expected_wins, wins_lower, wins_upper, actual_wins;
    std::vector<double> expected_revenue, revenue_lower, revenue_upper, actual_revenue;
    std::size_t size() const noexcept { return origin.size(); }
};

/// Calibration of the probability of a win within the horizon, per method and bin, pooled over
/// the origins: entities, mean predicted probability, observed share won.
struct calibration_rows {
    std::vector<std::int32_t> method, bin;
    std::vector<double> lower, upper;
    std::vector<std::int64_t> entities;
    std::vector<double> predicted, observed;
    std::size_t size() const noexcept { return method.size(); }
};

/// Per method: intervals checked and the share that held the actual value (wins, revenue; cells
/// with nothing to forecast, expected wins 0, are left out and counted in empty_cells), mean
/// absolute and mean signed errors (expected - actual) of wins and revenue, over the per-period
/// rows (Markov, semi-Markov) or the whole-horizon rows (weighted pipeline); and the Brier score
/// of the per-entity probabilities of a win within the horizon.
struct backtest_summary_rows {
    std::vector<std::int32_t> method;
    std::vector<std::int64_t> intervals, empty_cells;
    std::vector<double> coverage_wins, coverage_revenue, mae_wins, bias_wins, mae_revenue, bias_revenue, brier;
    std::size_t size() const noexcept { return method.size(); }
};

struct forecast_backtest {
    backtest_options options;
    std::int64_t as_of = 0;
    backtest_rows rows;
    calibration_rows calibration;
    backtest_summary_rows summary;
    explanation explain() const;
};

/// "markov", "semi_markov", "weighted_pipeline".
std::string_view backtest_method_name(std::int32_t method) noexcept;

/// Trains on the data up to each origin, forecasts the next `periods` periods with both models and
/// the weighted pipeline, and compares with what the entities open at the origin then did.
forecast_backtest backtest_forecast(const stage_model& model, const stage_records& records,
                                    const backtest_options& options);

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/forecast.ipp"
#endif
