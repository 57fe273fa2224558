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

stage_records make_records(const array<std::int64_t>& entity, const array<std::int64_t>& time,
                           const array<std::int32_t>& stage, const std::optional<array<std::int32_t>>& segment,
                           const std::optional<array<double>>& amount) {
    return {column(entity, "entity"), column(time, "time"), column(stage, "stage"), optional_column(segment, "segment"),
            optional_column(amount, "amount")};
}

// The model's hazards in long form: one row per (stage, age, destination) with a hazard > 0 or
// moves counted, plus the steps at risk of the row.
py::dict transitions_dict(const transition_model& m) {
    std::vector<std::int32_t> from, age, to;
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
    d["from"] = to_numpy(std::move(from));
    d["age"] = to_numpy(std::move(age));
    d["to"] = to_numpy(std::move(to));
    d["hazard"] = to_numpy(std::move(hazard));
    d["at_risk"] = to_numpy(std::move(at_risk));
    d["moves"] = to_numpy(std::move(moves));
    d["risk_stage"] = to_numpy(std::move(r_stage));
    d["risk_age"] = to_numpy(std::move(r_age));
    d["risk_steps"] = to_numpy(std::move(r_risk));
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
    e["entity"] = to_numpy(std::move(E.entity));
    e["segment"] = to_numpy(std::move(E.segment));
    e["stage"] = to_numpy(std::move(E.stage));
    e["age"] = to_numpy(std::move(E.age));
    e["amount"] = to_numpy(std::move(E.amount));
    e["own_amount"] = to_numpy(std::move(E.own_amount));
    e["p_won"] = to_numpy(std::move(E.p_won));
    e["p_lost"] = to_numpy(std::move(E.p_lost));
    e["p_never"] = to_numpy(std::move(E.p_never));
    e["expected_steps"] = to_numpy(std::move(E.expected_steps));
    e["stage_probability"] = to_numpy(std::move(E.stage_probability));
    e["at_risk"] = to_numpy(std::move(E.at_risk));
    e["pooled"] = to_numpy(std::move(E.pooled));
    auto pw = to_numpy(std::move(E.p_won_in));
    e["p_won_in"] = pw.reshape({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(f.options.periods)});
    d["entities"] = e;
    auto& P = f.periods;
    py::dict p;
    p["period"] = to_numpy(std::move(P.period));
    p["start"] = to_numpy(std::move(P.start));
    p["end"] = to_numpy(std::move(P.end));
    p["expected_wins"] = to_numpy(std::move(P.expected_wins));
    p["wins_lower"] = to_numpy(std::move(P.wins_lower));
    p["wins_upper"] = to_numpy(std::move(P.wins_upper));
    p["expected_revenue"] = to_numpy(std::move(P.expected_revenue));
    p["revenue_lower"] = to_numpy(std::move(P.revenue_lower));
    p["revenue_upper"] = to_numpy(std::move(P.revenue_upper));
    d["periods"] = p;
    auto& S = f.stages;
    py::dict s;
    s["stage"] = to_numpy(std::move(S.stage));
    s["open"] = to_numpy(std::move(S.open));
    s["open_amount"] = to_numpy(std::move(S.open_amount));
    s["p_won"] = to_numpy(std::move(S.p_won));
    s["expected_steps"] = to_numpy(std::move(S.expected_steps));
    s["stage_probability"] = to_numpy(std::move(S.stage_probability));
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
                       bool by_segment, bool bootstrap_hazards) {
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
               return o;
           }),
           py::kw_only(), py::arg("model") = "semi_markov", py::arg("step") = 86'400, py::arg("origin") = py::none(),
           py::arg("as_of") = py::none(), py::arg("periods") = 3, py::arg("period_steps") = 30,
           py::arg("max_age") = 90, py::arg("simulations") = 2000, py::arg("confidence") = 0.8, py::arg("seed") = 42,
           py::arg("by_segment") = false, py::arg("bootstrap_hazards") = true)
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
                       "Intervals re-estimate the hazards from a bootstrap of the training entities.");

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
              rows["origin"] = to_numpy(std::move(R.origin));
              rows["method"] = to_numpy(std::move(R.method));
              rows["period"] = to_numpy(std::move(R.period));
              rows["expected_wins"] = to_numpy(std::move(R.expected_wins));
              rows["wins_lower"] = to_numpy(std::move(R.wins_lower));
              rows["wins_upper"] = to_numpy(std::move(R.wins_upper));
              rows["actual_wins"] = to_numpy(std::move(R.actual_wins));
              rows["expected_revenue"] = to_numpy(std::move(R.expected_revenue));
              rows["revenue_lower"] = to_numpy(std::move(R.revenue_lower));
              rows["revenue_upper"] = to_numpy(std::move(R.revenue_upper));
              rows["actual_revenue"] = to_numpy(std::move(R.actual_revenue));
              d["rows"] = rows;
              auto& C = b.calibration;
              py::dict cal;
              cal["method"] = to_numpy(std::move(C.method));
              cal["bin"] = to_numpy(std::move(C.bin));
              cal["lower"] = to_numpy(std::move(C.lower));
              cal["upper"] = to_numpy(std::move(C.upper));
              cal["entities"] = to_numpy(std::move(C.entities));
              cal["predicted"] = to_numpy(std::move(C.predicted));
              cal["observed"] = to_numpy(std::move(C.observed));
              d["calibration"] = cal;
              auto& S = b.summary;
              py::dict sum;
              sum["method"] = to_numpy(std::move(S.method));
              sum["intervals"] = to_numpy(std::move(S.intervals));
              sum["empty_cells"] = to_numpy(std::move(S.empty_cells));
              sum["coverage_wins"] = to_numpy(std::move(S.coverage_wins));
              sum["coverage_revenue"] = to_numpy(std::move(S.coverage_revenue));
              sum["mae_wins"] = to_numpy(std::move(S.mae_wins));
              sum["bias_wins"] = to_numpy(std::move(S.bias_wins));
              sum["mae_revenue"] = to_numpy(std::move(S.mae_revenue));
              sum["bias_revenue"] = to_numpy(std::move(S.bias_revenue));
              sum["brier"] = to_numpy(std::move(S.brier));
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
