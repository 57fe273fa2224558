// Bindings of the pipeline forecast (forecast.hpp): the options as a class with keyword
// arguments, the forecast of the open pipeline, its backtest, and the outcomes of a hand-built
// Markov chain. Results come back as dicts of numpy columns with the core's explanation; the
// Python module funnelkit.forecast wraps them.
#include <pybind11/stl.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "bind_options.hpp"
#include "bindings.hpp"
#include "funnelkit/forecast.hpp"

namespace funnelkit::python {
namespace {

const std::initializer_list<const char*> model_words = {"markov", "semi_markov"};
const std::initializer_list<const char*> memory_words = {"none", "visited"};

stage_records make_records(const array<std::int64_t>& entity, const array<std::int64_t>& time,
                           const array<std::int32_t>& stage, const std::optional<array<std::int32_t>>& segment,
                           const std::optional<array<double>>& amount) {
    return {column(entity, "entity"), column(time, "time"), column(stage, "stage"), optional_column(segment, "segment"),
            optional_column(amount, "amount")};
}

// Moves each named column into the dict as a numpy array: put_columns(d, "a", a, "b", b, ...).
void put_columns(py::dict&) {}
template <class V, class... Rest>
void put_columns(py::dict& d, const char* name, V& column, Rest&... rest) {
    d[name] = to_numpy(std::move(column));
    put_columns(d, rest...);
}

// The model's hazards in long form: one row per (stage, age, destination) with a hazard > 0 or
// moves counted, plus the steps at risk of the row.
py::dict transitions_dict(const transition_model& m) {
    std::vector<std::int32_t> from, age, to;
    std::vector<std::uint64_t> visited;
    std::vector<double> hazard, at_risk;
    std::vector<std::int64_t> moves;
    const std::size_t S = m.n_states(), A = m.ages();
    for (std::size_t s = 0; s < m.n_transient(); ++s)
        for (std::size_t a = 0; a < A; ++a)
            for (std::size_t d = 0; d < S; ++d) {
                const double h = m.hazard[(s * A + a) * S + d];
                const std::int64_t n = m.moves[(s * A + a) * S + d];
                if (h == 0 && n == 0) continue;
                from.push_back(m.transient[s]);
                visited.push_back(m.visited.empty() ? 0 : m.visited[s]);
                age.push_back(static_cast<std::int32_t>(a));
                to.push_back(d < m.n_transient() ? m.transient[d] : m.absorbing[d - m.n_transient()]);
                hazard.push_back(h);
                at_risk.push_back(m.at_risk[s * A + a]);
                moves.push_back(n);
            }
    // Rows of every (stage, age) with its steps at risk, also those without moves.
    std::vector<std::int32_t> r_stage, r_age;
    std::vector<double> r_risk;
    for (std::size_t s = 0; s < m.n_transient(); ++s)
        for (std::size_t a = 0; a < A; ++a) {
            r_stage.push_back(m.transient[s]);
            r_age.push_back(static_cast<std::int32_t>(a));
            r_risk.push_back(m.at_risk[s * A + a]);
        }
    py::dict d;
    put_columns(d, "from", from, "visited", visited, "age", age, "to", to, "hazard", hazard, "at_risk", at_risk, "moves", moves, "risk_stage",
                r_stage, "risk_age", r_age, "risk_steps", r_risk);
    d["max_age"] = m.max_age;
    d["segment"] = m.segment;
    return d;
}

py::dict forecast_dict(pipeline_forecast&& f) {
    py::dict d;
    // The explanation reads the result's vectors: build it before they are moved out.
    d["explanation"] = f.explain();
    auto& E = f.entities;
    py::dict e;
    const std::size_t n = E.size();
    put_columns(e, "entity", E.entity, "segment", E.segment, "stage", E.stage, "age", E.age, "amount", E.amount,
                "own_amount", E.own_amount, "p_won", E.p_won, "p_lost", E.p_lost, "p_never", E.p_never, "expected_steps",
                E.expected_steps, "stage_probability", E.stage_probability, "at_risk", E.at_risk, "pooled", E.pooled);
    auto pw = to_numpy(std::move(E.p_won_in));
    e["p_won_in"] = pw.reshape({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(f.options.periods)});
    d["entities"] = e;
    auto& P = f.periods;
    py::dict p;
    put_columns(p, "period", P.period, "start", P.start, "end", P.end, "expected_wins", P.expected_wins, "wins_lower",
                P.wins_lower, "wins_upper", P.wins_upper, "expected_revenue", P.expected_revenue, "revenue_lower",
                P.revenue_lower, "revenue_upper", P.revenue_upper);
    d["periods"] = p;
    auto& S = f.stages;
    py::dict s;
    put_columns(s, "stage", S.stage, "open", S.open, "open_amount", S.open_amount, "p_won", S.p_won, "expected_steps",
                S.expected_steps, "stage_probability", S.stage_probability);
    d["stages"] = s;
    d["transitions"] = transitions_dict(f.models[0]);
    py::dict w;
    w["wins"] = f.weighted_wins;
    w["wins_lower"] = f.weighted_wins_lower;
    w["wins_upper"] = f.weighted_wins_upper;
    w["revenue"] = f.weighted_revenue;
    w["revenue_lower"] = f.weighted_revenue_lower;
    w["revenue_upper"] = f.weighted_revenue_upper;
    d["weighted"] = w;
    d["origin"] = f.origin;
    d["as_of"] = f.as_of;
    d["default_amount"] = f.default_amount;
    d["pooled_cells"] = f.pooled_cells;
    d["pooled_entities"] = f.pooled_entities;
    return d;
}

}  // namespace

void register_forecast(py::module_& m) {
    py::class_<forecast_options> fo(m, "ForecastOptions",
                                    "The forecast model, the step and horizon, the semi-Markov age cap and the "
                                    "simulated intervals.");
    fo.def(py::init([](const std::string& model, std::int64_t step, std::optional<std::int64_t> origin,
                       std::optional<std::int64_t> as_of, std::int32_t periods, std::int32_t period_steps,
                       std::int32_t max_age, std::int32_t simulations, double confidence, std::uint64_t seed,
                       bool by_segment, bool bootstrap_hazards, std::int32_t bootstrap_models, bool resample_amounts,
                       unsigned threads, const std::string& memory) {
               forecast_options o;
               o.model = pick<forecast_model>("model", model, model_words);
               o.step = step;
               o.origin = origin;
               o.as_of = as_of;
               o.periods = periods;
               o.period_steps = period_steps;
               o.max_age = max_age;
               o.simulations = simulations;
               o.confidence = confidence;
               o.seed = seed;
               o.by_segment = by_segment;
               o.bootstrap_hazards = bootstrap_hazards;
               o.bootstrap_models = bootstrap_models;
               o.resample_amounts = resample_amounts;
               o.threads = threads;
               o.memory = pick<path_memory>("memory", memory, memory_words);
               return o;
           }),
           py::kw_only(), py::arg("model") = "semi_markov", py::arg("step") = 86'400, py::arg("origin") = py::none(),
           py::arg("as_of") = py::none(), py::arg("periods") = 3, py::arg("period_steps") = 30,
           py::arg("max_age") = 90, py::arg("simulations") = 2000, py::arg("confidence") = 0.8, py::arg("seed") = 42,
           py::arg("by_segment") = false, py::arg("bootstrap_hazards") = true, py::arg("bootstrap_models") = 200,
           py::arg("resample_amounts") = true, py::arg("threads") = 1, py::arg("memory") = "visited")
        .def_property(
            "model", [](const forecast_options& o) { return word(o.model, model_words); },
            [](forecast_options& o, const std::string& v) { o.model = pick<forecast_model>("model", v, model_words); },
            "'markov' or 'semi_markov'.")
        .def_readwrite("step", &forecast_options::step, "Ticks of one step.")
        .def_readwrite("origin", &forecast_options::origin, "Forecast origin (None: the end of the data).")
        .def_readwrite("as_of", &forecast_options::as_of, "End of the observation (None: the latest record).")
        .def_readwrite("periods", &forecast_options::periods, "Periods of the horizon.")
        .def_readwrite("period_steps", &forecast_options::period_steps, "Steps per period.")
        .def_readwrite("max_age", &forecast_options::max_age, "Semi-Markov: ages with hazards of their own.")
        .def_readwrite("simulations", &forecast_options::simulations, "Simulations of the intervals (0: none).")
        .def_readwrite("confidence", &forecast_options::confidence, "Confidence level of the intervals.")
        .def_readwrite("seed", &forecast_options::seed, "Seed of the simulations.")
        .def_readwrite("by_segment", &forecast_options::by_segment, "One transition model per segment.")
        .def_readwrite("bootstrap_hazards", &forecast_options::bootstrap_hazards,
                       "Intervals re-estimate the hazards from a bootstrap of the training entities.")
        .def_readwrite("bootstrap_models", &forecast_options::bootstrap_models,
                       "Bootstrap resamples behind the intervals; simulation r uses resample r mod this.")
        .def_readwrite("resample_amounts", &forecast_options::resample_amounts,
                       "A winning entity without an amount takes the amount of a random training win.")
        .def_readwrite("threads", &forecast_options::threads,
                       "Worker threads of the simulations (the results do not depend on it).")
        .def_property(
            "memory", [](const forecast_options& o) { return word(o.memory, memory_words); },
            [](forecast_options& o, const std::string& v) { o.memory = pick<path_memory>("memory", v, memory_words); },
            "Path memory of the state: 'none' or 'visited' (the stages visited before the run).");

    m.def("forecast_pipeline",
          [](const stage_model& model, const array<std::int64_t>& entity, const array<std::int64_t>& time,
             const array<std::int32_t>& stage, const forecast_options& options,
             const std::optional<array<std::int32_t>>& segment, const std::optional<array<double>>& amount) {
              const auto r = make_records(entity, time, stage, segment, amount);
              pipeline_forecast f;
              {
                  py::gil_scoped_release release;
                  f = forecast_pipeline(model, r, options);
              }
              return forecast_dict(std::move(f));
          },
          "Forecast of the pipeline open at the origin: per entity, per period, per stage, and the transitions.",
          py::arg("model"), py::arg("entity"), py::arg("time"), py::arg("stage"), py::kw_only(),
          py::arg("options") = forecast_options{}, py::arg("segment") = py::none(), py::arg("amount") = py::none());

    m.def("backtest_forecast",
          [](const stage_model& model, const array<std::int64_t>& entity, const array<std::int64_t>& time,
             const array<std::int32_t>& stage, const std::vector<std::int64_t>& origins, const forecast_options& options,
             std::int32_t calibration_bins, const std::optional<array<std::int32_t>>& segment,
             const std::optional<array<double>>& amount) {
              const auto r = make_records(entity, time, stage, segment, amount);
              backtest_options bo;
              bo.forecast = options;
              bo.origins = origins;
              bo.calibration_bins = calibration_bins;
              forecast_backtest b;
              {
                  py::gil_scoped_release release;
                  b = backtest_forecast(model, r, bo);
              }
              py::dict d;
              // The explanation reads the result's vectors: build it before they are moved out.
              d["explanation"] = b.explain();
              auto& R = b.rows;
              py::dict rows;
              put_columns(rows, "origin", R.origin, "method", R.method, "period", R.period, "expected_wins", R.expected_wins,
                          "wins_lower", R.wins_lower, "wins_upper", R.wins_upper, "actual_wins", R.actual_wins,
                          "expected_revenue", R.expected_revenue, "revenue_lower", R.revenue_lower, "revenue_upper",
                          R.revenue_upper, "actual_revenue", R.actual_revenue);
              d["rows"] = rows;
              auto& C = b.calibration;
              py::dict cal;
              put_columns(cal, "method", C.method, "bin", C.bin, "lower", C.lower, "upper", C.upper, "entities", C.entities,
                          "predicted", C.predicted, "observed", C.observed);
              d["calibration"] = cal;
              auto& S = b.summary;
              py::dict sum;
              put_columns(sum, "method", S.method, "intervals", S.intervals, "empty_cells", S.empty_cells, "coverage_wins",
                          S.coverage_wins, "coverage_revenue", S.coverage_revenue, "mae_wins", S.mae_wins, "bias_wins",
                          S.bias_wins, "mae_revenue", S.mae_revenue, "bias_revenue", S.bias_revenue, "brier", S.brier);
              d["summary"] = sum;
              d["as_of"] = b.as_of;
              return d;
          },
          "Backtest of the forecast: train to each origin, forecast, compare with what happened.", py::arg("model"),
          py::arg("entity"), py::arg("time"), py::arg("stage"), py::kw_only(), py::arg("origins"),
          py::arg("options") = forecast_options{}, py::arg("calibration_bins") = 10, py::arg("segment") = py::none(),
          py::arg("amount") = py::none());

    m.def("markov_chain_outcomes",
          [](const array<double>& p, std::size_t n_transient, std::size_t n_absorbing, std::size_t won, std::int32_t steps) {
              const auto mm = markov_model(n_transient, n_absorbing, column(p, "p"), won);
              const auto o = solve_outcomes(mm);
              py::dict d;
              auto po = std::vector<double>(o.p_outcome);
              d["p_outcome"] = to_numpy(std::move(po)).reshape({static_cast<py::ssize_t>(n_transient),
                                                                 static_cast<py::ssize_t>(n_absorbing)});
              d["p_never"] = to_numpy(std::vector<double>(o.p_never));
              d["expected_steps"] = to_numpy(std::vector<double>(o.expected_steps));
              d["won_per_step"] = to_numpy(won_per_step(mm, steps)).reshape({static_cast<py::ssize_t>(steps),
                                                                            static_cast<py::ssize_t>(n_transient)});
              return d;
          },
          "Outcomes of a Markov chain given per step as a flat row-major n_transient x (n_transient + n_absorbing) "
          "matrix (diagonal = stay): absorption probabilities, expected steps, P(won at step t).",
          py::arg("p"), py::arg("n_transient"), py::arg("n_absorbing"), py::kw_only(), py::arg("won") = 0,
          py::arg("steps") = 0);
}

}  // namespace funnelkit::python
