// Bindings of planning (planning.hpp): the reverse funnel with its options as a class with
// keyword arguments, rep capacity, goal splits, and time lags (estimation with lag options,
// the lag model, forward projection, backward lead planning). Results come back as dicts of
// numpy columns with the core's explanation; the Python module funnelkit.planning wraps them.
#include <pybind11/stl.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bind_options.hpp"
#include "bindings.hpp"
#include "funnelkit/planning.hpp"

namespace funnelkit::python {
namespace {

const std::initializer_list<const char*> basis_words = {"total", "per_period"};
const std::initializer_list<const char*> rounding_words = {"deals_first", "chained", "round_once"};
const std::initializer_list<const char*> capacity_words = {"week", "month"};

std::vector<funnel_step> make_steps(const std::vector<std::pair<std::string, double>>& steps) {
    std::vector<funnel_step> out;
    out.reserve(steps.size());
    for (const auto& [name, rate] : steps) out.push_back({name, rate});
    return out;
}

std::vector<std::pair<std::string, double>> step_pairs(const std::vector<funnel_step>& steps) {
    std::vector<std::pair<std::string, double>> out;
    out.reserve(steps.size());
    for (const auto& s : steps) out.emplace_back(s.name, s.rate);
    return out;
}

py::dict plan_dict(const reverse_funnel_plan& plan) {
    py::list stage;
    std::vector<double> rate, to_won, exact, volume, per_period, per_rep;
    for (const auto& r : plan.rows) {
        stage.append(r.name);
        rate.push_back(or_nan(r.rate));
        to_won.push_back(r.rate_to_won);
        exact.push_back(r.exact);
        volume.push_back(r.volume);
        per_period.push_back(r.per_period);
        per_rep.push_back(r.per_rep_per_period);
    }
    py::dict d;
    d["stage"] = stage;
    d["rate"] = to_numpy(std::move(rate));
    d["rate_to_won"] = to_numpy(std::move(to_won));
    d["exact"] = to_numpy(std::move(exact));
    d["volume"] = to_numpy(std::move(volume));
    d["per_period"] = to_numpy(std::move(per_period));
    d["per_rep_per_period"] = to_numpy(std::move(per_rep));
    d["total_goal"] = plan.total_goal;
    d["explanation"] = plan.explain();
    return d;
}

py::dict lead_plan_dict(const lead_plan& p) {
    std::vector<double> tr, tw, fh, leads, whole, pw, pr, gap;
    py::list status, reason;
    for (const auto& mo : p.months) {
        tr.push_back(mo.target_revenue); tw.push_back(mo.target_wins); fh.push_back(mo.from_history);
        leads.push_back(mo.leads); whole.push_back(mo.leads_whole); pw.push_back(mo.projected_wins);
        pr.push_back(mo.projected_revenue); gap.push_back(mo.gap);
        status.append(std::string(to_string(mo.status)));
        reason.append(mo.reason);
    }
    py::dict d;
    d["target_revenue"] = to_numpy(std::move(tr));
    d["target_wins"] = to_numpy(std::move(tw));
    d["from_history"] = to_numpy(std::move(fh));
    d["leads"] = to_numpy(std::move(leads));
    d["leads_whole"] = to_numpy(std::move(whole));
    d["projected_wins"] = to_numpy(std::move(pw));
    d["projected_revenue"] = to_numpy(std::move(pr));
    d["gap"] = to_numpy(std::move(gap));
    d["status"] = status;
    d["reason"] = reason;
    d["feasible"] = p.feasible;
    d["first_lag"] = p.first_lag;
    d["explanation"] = p.explain();
    return d;
}

py::list lags_list(const std::vector<lag_distribution>& res) {
    py::list out;
    for (const auto& d : res) {
        py::dict x;
        x["segment"] = d.segment;
        x["leads"] = d.leads;
        x["wins"] = d.wins;
        x["beyond"] = d.beyond;
        x["win_rate"] = or_nan(d.win_rate);
        x["shares"] = d.shares;
        x["deal_value"] = or_nan(d.deal_value);
        x["reason"] = d.reason;
        x["explanation"] = d.explain();
        out.append(x);
    }
    return out;
}

}  // namespace

void register_planning(py::module_& m) {
    m.def("ceil_whole", &ceil_whole,
          "x rounded up to a whole number, unless within tolerance * max(1, |x|) of an integer.", py::arg("x"),
          py::arg("tolerance") = whole_tolerance);

    py::class_<reverse_funnel_options> ro(m, "ReverseFunnelOptions",
                                          "A revenue goal, the deal value and the stage rates of a reverse funnel.");
    ro.def(py::init([](double goal, double deal_value, const std::vector<std::pair<std::string, double>>& steps,
                       const std::string& basis, const std::string& won_name, std::int32_t periods, std::int32_t reps,
                       const std::string& rounding, double tolerance) {
               reverse_funnel_options o;
               o.goal = goal;
               o.deal_value = deal_value;
               o.steps = make_steps(steps);
               o.basis = pick<goal_basis>("basis", basis, basis_words);
               o.won_name = won_name;
               o.periods = periods;
               o.reps = reps;
               o.rounding = pick<plan_rounding>("rounding", rounding, rounding_words);
               o.tolerance = tolerance;
               return o;
           }),
           py::kw_only(), py::arg("goal"), py::arg("deal_value"), py::arg("steps"), py::arg("basis") = "total",
           py::arg("won_name") = "Customer", py::arg("periods") = 1, py::arg("reps") = 1,
           py::arg("rounding") = "deals_first", py::arg("tolerance") = whole_tolerance)
        .def_readwrite("goal", &reverse_funnel_options::goal, "Revenue goal (currency).")
        .def_readwrite("deal_value", &reverse_funnel_options::deal_value, "Revenue per won deal.")
        .def_property(
            "steps", [](const reverse_funnel_options& o) { return step_pairs(o.steps); },
            [](reverse_funnel_options& o, const std::vector<std::pair<std::string, double>>& s) {
                o.steps = make_steps(s);
            },
            "(stage, rate to the next stage) pairs, top of the funnel first.")
        .def_property(
            "basis", [](const reverse_funnel_options& o) { return word(o.basis, basis_words); },
            [](reverse_funnel_options& o, const std::string& v) { o.basis = pick<goal_basis>("basis", v, basis_words); },
            "The goal covers all periods ('total') or each one ('per_period').")
        .def_readwrite("won_name", &reverse_funnel_options::won_name, "Name of the won stage.")
        .def_readwrite("periods", &reverse_funnel_options::periods, "Periods the goal covers.")
        .def_readwrite("reps", &reverse_funnel_options::reps, "Reps sharing the volume.")
        .def_property(
            "rounding", [](const reverse_funnel_options& o) { return word(o.rounding, rounding_words); },
            [](reverse_funnel_options& o, const std::string& v) {
                o.rounding = pick<plan_rounding>("rounding", v, rounding_words);
            },
            "'deals_first' (deals rounded up first, each stage from them), 'chained' (each stage from the rounded "
            "stage below) or 'round_once' (each figure from the unrounded goal, rounded once).")
        .def_readwrite("tolerance", &reverse_funnel_options::tolerance, "Relative tolerance of ceil_whole.");

    m.def("plan_reverse_funnel", [](const reverse_funnel_options& o) { return plan_dict(plan_reverse_funnel(o)); },
          "The reverse funnel from a revenue goal to the whole volume each stage needs.", py::arg("options"));

    m.def("reps_needed",
          [](double volume, double capacity, const std::string& per, double tolerance) {
              const auto r = reps_needed(volume, capacity, pick<capacity_unit>("per", per, capacity_words), tolerance);
              py::dict d;
              d["volume_per_month"] = r.volume_per_month;
              d["capacity"] = r.capacity;
              d["capacity_per_month"] = r.capacity_per_month;
              d["exact_reps"] = r.exact_reps;
              d["reps"] = r.reps;
              d["explanation"] = r.explain();
              return d;
          },
          "Reps needed = ceil_whole(volume per month / capacity per rep per month).", py::arg("volume_per_month"),
          py::kw_only(), py::arg("capacity"), py::arg("per") = "month", py::arg("tolerance") = whole_tolerance);

    m.def("split_goal",
          [](double goal, const std::vector<std::pair<std::string, double>>& shares) {
              std::vector<goal_share> s;
              s.reserve(shares.size());
              for (const auto& [name, share] : shares) s.push_back({name, share});
              py::list name;
              std::vector<double> share, part;
              for (const auto& r : split_goal(goal, s)) {
                  name.append(r.name);
                  share.push_back(r.share);
                  part.push_back(r.goal);
              }
              py::dict d;
              d["name"] = name;
              d["share"] = to_numpy(std::move(share));
              d["goal"] = to_numpy(std::move(part));
              return d;
          },
          "A goal split by (name, share) pairs whose shares sum to 1.", py::arg("goal"), py::arg("shares"));

    py::class_<lag_options>(m, "LagOptions", "Lag length, largest lag and end of the data for estimate_lags.")
        .def(py::init([](std::int64_t period, std::int32_t max_lag, std::int64_t data_end) {
                 return lag_options{period, max_lag, data_end};
             }),
             py::kw_only(), py::arg("period") = lag_options{}.period, py::arg("max_lag") = lag_options{}.max_lag,
             py::arg("data_end"))
        .def_readwrite("period", &lag_options::period, "Length of one lag step in ticks of the times.")
        .def_readwrite("max_lag", &lag_options::max_lag, "Largest lag (in steps) the distribution holds.")
        .def_readwrite("data_end", &lag_options::data_end, "End of the data (exclusive), in ticks.")
        .def("__repr__", [](const lag_options& o) {
            return "LagOptions(period=" + std::to_string(o.period) + ", max_lag=" + std::to_string(o.max_lag) +
                   ", data_end=" + std::to_string(o.data_end) + ")";
        });

    m.def("estimate_lags",
          [](const array<std::int64_t>& created, const array<std::int64_t>& won, const lag_options& options,
             const std::optional<array<std::int32_t>>& segment, const std::optional<array<double>>& amount) {
              lag_records r{column(created, "created"), column(won, "won"), optional_column(segment, "segment"),
                            optional_column(amount, "amount")};
              std::vector<lag_distribution> res;
              {
                  py::gil_scoped_release release;
                  res = estimate_lags(r, options);
              }
              return lags_list(res);
          },
          "Lag distributions and win rates of mature leads, overall then per segment.", py::arg("created"),
          py::arg("won"), py::kw_only(), py::arg("options"), py::arg("segment") = py::none(),
          py::arg("amount") = py::none());

    py::class_<lag_model>(m, "LagModel", "wins(m) = win_rate * sum_k leads(m - k) * shares[k]; revenue = wins * value.")
        .def(py::init([](double win_rate, const std::vector<double>& shares, double deal_value) {
                 lag_model lm{win_rate, shares, deal_value};
                 lm.validate();
                 return lm;
             }),
             py::kw_only(), py::arg("win_rate"), py::arg("shares"), py::arg("deal_value") = 1.0)
        .def_readonly("win_rate", &lag_model::win_rate)
        .def_readonly("shares", &lag_model::shares)
        .def_readonly("deal_value", &lag_model::deal_value);

    m.def("project_forward",
          [](const lag_model& model, const std::vector<double>& leads, const std::vector<double>& history) {
              const auto p = project_forward(model, leads, history);
              py::dict d;
              d["wins"] = to_numpy(std::vector<double>(p.wins));
              d["revenue"] = to_numpy(std::vector<double>(p.revenue));
              d["from_history"] = to_numpy(std::vector<double>(p.from_history));
              d["explanation"] = p.explain();
              return d;
          },
          "Wins and revenue per month of a lead plan.", py::arg("model"), py::arg("leads"), py::kw_only(),
          py::arg("history") = std::vector<double>{});

    m.def("plan_leads",
          [](const lag_model& model, const std::vector<double>& targets, const std::vector<double>& history) {
              return lead_plan_dict(plan_leads(model, targets, history));
          },
          "Monthly lead targets solved backwards from revenue targets.", py::arg("model"), py::arg("targets"),
          py::kw_only(), py::arg("history") = std::vector<double>{});
}

}  // namespace funnelkit::python

