// Bindings of sales velocity (velocity.hpp): the explanation every revenue result carries, the
// velocity options as a class with keyword arguments, velocity per period and segment, the
// formula, the split of a change into its drivers, and opportunities from stage records.
// Results come back as dicts of numpy columns; the Python module funnelkit.velocity wraps them.
#include <pybind11/stl.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "bind_options.hpp"
#include "bindings.hpp"
#include "funnelkit/velocity.hpp"

namespace funnelkit::python {
namespace {

// The words of each option, in enum order (pick() and word() read the same list).
// created_in_period: the deprecated name of the vendor figure (the core keeps its former meaning).
const std::initializer_list<const char*> count_words = {"created_in_period", "open_at_start", "average_open", "vendor",
                                                       "created_per_period"};
const std::initializer_list<const char*> win_rate_words = {"count", "value"};
const std::initializer_list<const char*> cycle_from_words = {"created", "sql", "first_touch"};
const std::initializer_list<const char*> cycle_over_words = {"won", "closed"};
const std::initializer_list<const char*> cycle_stat_words = {"mean", "median"};

/// A read-write property of an options class that shows and takes the enum as its word.
template <class C, class E>
void word_property(py::class_<C>& cls, const char* name, E C::*member, std::initializer_list<const char*> words,
                   const char* doc) {
    cls.def_property(
        name, [member, words](const C& o) { return word(o.*member, words); },
        [member, words, name](C& o, const std::string& v) { o.*member = pick<E>(name, v, words); }, doc);
}

py::dict velocity_dict(const std::vector<velocity_result>& res) {
    const std::size_t n = res.size();
    std::vector<std::int64_t> period_index(n), start(n), end(n), won(n), lost(n), cd(n), cm(n);
    std::vector<std::int32_t> segment(n), bu(n);
    std::vector<double> N(n), wa(n), la(n), D(n), W(n), L(n), V(n), VP(n), PL(n), RE(n), lo(n), hi(n), OB(n);
    std::vector<std::uint8_t> partial(n);
    py::list status, reason, expl;
    for (std::size_t i = 0; i < n; ++i) {
        const auto& r = res[i];
        period_index[i] = static_cast<std::int64_t>(r.period_index);
        start[i] = r.interval.start;
        end[i] = r.interval.end;
        segment[i] = r.segment;
        N[i] = r.n; won[i] = r.won; lost[i] = r.lost; cd[i] = r.cycle_deals; cm[i] = r.cycle_missing;
        wa[i] = r.won_amount; la[i] = r.lost_amount;
        VP[i] = or_nan(r.velocity_per_period); PL[i] = r.period_length; RE[i] = r.realised;
        D[i] = or_nan(r.deal_value); W[i] = or_nan(r.win_rate); L[i] = or_nan(r.cycle_length); V[i] = or_nan(r.velocity);
        lo[i] = or_nan(r.ci_lower); hi[i] = or_nan(r.ci_upper);
        bu[i] = r.bootstrap_undefined;
        OB[i] = r.observed;
        partial[i] = r.partial ? 1 : 0;
        status.append(std::string(to_string(r.status)));
        reason.append(r.reason);
        expl.append(py::cast(r.explain()));
    }
    py::dict d;
    d["period"] = to_numpy(std::move(period_index));
    d["start"] = to_numpy(std::move(start));
    d["end"] = to_numpy(std::move(end));
    d["segment"] = to_numpy(std::move(segment));
    d["n"] = to_numpy(std::move(N));
    d["deal_value"] = to_numpy(std::move(D));
    d["win_rate"] = to_numpy(std::move(W));
    d["cycle_length"] = to_numpy(std::move(L));
    d["velocity"] = to_numpy(std::move(V));
    d["velocity_per_period"] = to_numpy(std::move(VP));
    d["period_length"] = to_numpy(std::move(PL));
    d["realised"] = to_numpy(std::move(RE));
    d["observed"] = to_numpy(std::move(OB));
    d["partial"] = to_numpy(std::move(partial));
    d["won"] = to_numpy(std::move(won));
    d["lost"] = to_numpy(std::move(lost));
    d["won_amount"] = to_numpy(std::move(wa));
    d["lost_amount"] = to_numpy(std::move(la));
    d["cycle_deals"] = to_numpy(std::move(cd));
    d["cycle_missing"] = to_numpy(std::move(cm));
    d["ci_lower"] = to_numpy(std::move(lo));
    d["ci_upper"] = to_numpy(std::move(hi));
    d["bootstrap_undefined"] = to_numpy(std::move(bu));
    d["status"] = status;
    d["reason"] = reason;
    d["explanation"] = expl;
    return d;
}

}  // namespace

namespace {
/// An explanation's name/value pairs with typed Python values: float, int, str, or None when
/// undefined.
py::list explanation_pairs(const std::vector<std::pair<std::string, explanation_value>>& pairs) {
    py::list out;
    for (const auto& [name, v] : pairs) {
        py::object value;
        switch (v.type()) {
            case explanation_value::kind::number: value = py::float_(v.number()); break;
            case explanation_value::kind::integer: value = py::int_(py::str(v.text())); break;
            case explanation_value::kind::text: value = py::str(v.text()); break;
            case explanation_value::kind::undefined: value = py::none(); break;
        }
        out.append(py::make_tuple(name, value));
    }
    return out;
}
}  // namespace

void register_velocity(py::module_& m) {
    m.attr("missing_time") = missing_time;

    py::class_<explanation>(m, "Explanation",
                            "How a revenue result was computed: the metric, its formula, the inputs with their "
                            "values and the options in force, as (name, value) pairs with typed values.")
        .def_readonly("metric", &explanation::metric)
        .def_readonly("formula", &explanation::formula)
        .def_property_readonly("inputs", [](const explanation& e) { return explanation_pairs(e.inputs); })
        .def_property_readonly("options", [](const explanation& e) { return explanation_pairs(e.options); })
        .def_readonly("note", &explanation::note)
        .def("text", &explanation::text, "Multi-line text.")
        .def("json", &explanation::json, "A JSON object {metric, formula, inputs, options, note}.")
        .def("__repr__", [](const explanation& e) { return "<Explanation " + e.metric + ": " + e.formula + ">"; });

    py::class_<velocity_options> vo(m, "VelocityOptions",
                                    "Definitions of N, W and L, the unit of L and the bootstrap of V.");
    vo.def(py::init([](const std::string& count, const std::string& win_rate, const std::string& cycle_from,
                       const std::string& cycle_over, const std::string& cycle_stat, double time_unit,
                       const std::string& unit_name, std::int32_t bootstrap, double confidence, std::uint64_t seed,
                       std::optional<std::int64_t> as_of) {
               velocity_options o;
               o.count = pick<count_basis>("count", count, count_words);
               o.win_rate = pick<win_rate_basis>("win_rate", win_rate, win_rate_words);
               o.cycle_from = pick<cycle_start>("cycle_from", cycle_from, cycle_from_words);
               o.cycle_over = pick<cycle_deals>("cycle_over", cycle_over, cycle_over_words);
               o.cycle_stat = pick<cycle_statistic>("cycle_stat", cycle_stat, cycle_stat_words);
               o.time_unit = time_unit;
               o.unit_name = unit_name;
               o.bootstrap = bootstrap;
               o.confidence = confidence;
               o.seed = seed;
               o.as_of = as_of;
               return o;
           }),
           py::kw_only(), py::arg("count") = "average_open", py::arg("win_rate") = "count",
           py::arg("cycle_from") = "created", py::arg("cycle_over") = "closed", py::arg("cycle_stat") = "mean",
           py::arg("time_unit") = 86'400.0, py::arg("unit_name") = "day", py::arg("bootstrap") = 0,
           py::arg("confidence") = 0.95, py::arg("seed") = 42, py::arg("as_of") = py::none());
    word_property(vo, "count", &velocity_options::count, count_words,
                  "N: 'average_open' (time-averaged open pipeline), 'open_at_start', 'created_per_period' (V per period "
                  "/ period length) or 'vendor' (created in the period / L; 'created_in_period' is its deprecated "
                  "name).");
    word_property(vo, "win_rate", &velocity_options::win_rate, win_rate_words, "W by 'count' or by 'value'.");
    word_property(vo, "cycle_from", &velocity_options::cycle_from, cycle_from_words,
                  "Start of L: 'created', 'sql' or 'first_touch'.");
    word_property(vo, "cycle_over", &velocity_options::cycle_over, cycle_over_words,
                  "Deals of L: 'won' or all 'closed'.");
    word_property(vo, "cycle_stat", &velocity_options::cycle_stat, cycle_stat_words, "L as the 'mean' or 'median'.");
    vo.def_readwrite("time_unit", &velocity_options::time_unit, "Ticks of the time columns in one unit of L.")
        .def_readwrite("unit_name", &velocity_options::unit_name, "Name of the unit of L ('day').")
        .def_readwrite("bootstrap", &velocity_options::bootstrap, "Bootstrap replicates of V (0: no interval).")
        .def_readwrite("confidence", &velocity_options::confidence, "Confidence of the bootstrap interval.")
        .def_readwrite("seed", &velocity_options::seed, "Seed of the bootstrap.")
        .def_readwrite("as_of", &velocity_options::as_of, "End of the data (None: the latest time in the records).")
        .def("__repr__", [](const velocity_options& o) {
            return "VelocityOptions(count='" + word(o.count, count_words) + "', win_rate='" +
                   word(o.win_rate, win_rate_words) + "', cycle_from='" + word(o.cycle_from, cycle_from_words) +
                   "', cycle_over='" + word(o.cycle_over, cycle_over_words) + "', cycle_stat='" +
                   word(o.cycle_stat, cycle_stat_words) + "', time_unit=" + detail::to_display(o.time_unit) +
                   ", unit_name='" + o.unit_name + "', bootstrap=" + std::to_string(o.bootstrap) +
                   ", confidence=" + detail::to_display(o.confidence) + ", seed=" + std::to_string(o.seed) + ")";
        });

    m.def("velocity",
          [](const array<std::int64_t>& created, const array<std::int64_t>& closed, const array<std::int8_t>& outcome,
             const array<double>& amount, const array<std::int64_t>& starts, const array<std::int64_t>& ends,
             const velocity_options& options, const std::optional<array<std::int32_t>>& segment,
             const std::optional<array<std::int64_t>>& sql_time, const std::optional<array<std::int64_t>>& first_touch) {
              opportunity_records r{column(created, "created"), column(closed, "closed"), column(outcome, "outcome"),
                                    column(amount, "amount"), optional_column(segment, "segment"),
                                    optional_column(sql_time, "sql_time"), optional_column(first_touch, "first_touch")};
              const auto p = make_periods(starts, ends);
              std::vector<velocity_result> res;
              {
                  py::gil_scoped_release release;
                  res = funnelkit::velocity(r, p, options);
              }
              return velocity_dict(res);
          },
          "Velocity per period [starts, ends) and segment: a dict of numpy columns and the explanations.",
          py::arg("created"), py::arg("closed"), py::arg("outcome"), py::arg("amount"), py::arg("starts"),
          py::arg("ends"), py::kw_only(), py::arg("options") = velocity_options{}, py::arg("segment") = py::none(),
          py::arg("sql_time") = py::none(), py::arg("first_touch") = py::none());

    m.def("velocity_formula", &velocity_formula, "V = n * deal_value * win_rate / cycle_length.", py::arg("n"),
          py::arg("deal_value"), py::arg("win_rate"), py::arg("cycle_length"));

    m.def("decompose_velocity",
          [](double n0, double d0, double w0, double l0, double n1, double d1, double w1, double l1) {
              const auto r = decompose_velocity(n0, d0, w0, l0, n1, d1, w1, l1);
              py::dict d;
              d["v0"] = r.v0; d["v1"] = r.v1; d["weight"] = r.weight;
              d["log"] = std::vector<double>{r.log_n, r.log_d, r.log_w, r.log_l};
              d["additive"] = std::vector<double>{r.n, r.d, r.w, r.l};
              d["shapley"] = std::vector<double>{r.shapley_n, r.shapley_d, r.shapley_w, r.shapley_l};
              d["explanation"] = r.explain();
              return d;
          },
          "The change V1 - V0 split into N, D, W and L (log scale, LMDI-I and Shapley).", py::arg("n0"), py::arg("d0"),
          py::arg("w0"), py::arg("l0"), py::arg("n1"), py::arg("d1"), py::arg("w1"), py::arg("l1"));

    m.def("opportunities_from_stages",
          [](const stage_model& model, const array<std::int64_t>& entity, const array<std::int64_t>& time,
             const array<std::int32_t>& stage, const std::optional<array<std::int32_t>>& segment,
             const std::optional<array<double>>& amount, const std::string& opportunity_stage,
             const std::string& sql_stage) {
              stage_records r{column(entity, "entity"), column(time, "time"), column(stage, "stage"),
                              optional_column(segment, "segment"), optional_column(amount, "amount")};
              opportunity_table t;
              {
                  py::gil_scoped_release release;
                  t = opportunities_from_stages(model, r, opportunity_stage, sql_stage);
              }
              py::dict d;
              d["entity"] = to_numpy(std::move(t.entity));
              d["created"] = to_numpy(std::move(t.created));
              d["closed"] = to_numpy(std::move(t.closed));
              d["outcome"] = to_numpy(std::move(t.outcome));
              d["amount"] = to_numpy(std::move(t.amount));
              d["sql_time"] = to_numpy(std::move(t.sql_time));
              d["first_touch"] = to_numpy(std::move(t.first_touch));
              if (!t.segment.empty() || r.has_segment()) d["segment"] = to_numpy(std::move(t.segment));
              return d;
          },
          "One opportunity per entity that entered opportunity_stage, from stage-change records.", py::arg("model"),
          py::arg("entity"), py::arg("time"), py::arg("stage"), py::kw_only(), py::arg("segment") = py::none(),
          py::arg("amount") = py::none(), py::arg("opportunity_stage") = "Opportunity", py::arg("sql_stage") = "SQL");
}

}  // namespace funnelkit::python

