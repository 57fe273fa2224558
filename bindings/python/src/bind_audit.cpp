// Bindings of the qualification audit: the options as a class with keyword arguments, the audit
// over 0/1 columns and period codes, and the AUC. funnelkit.audit builds the public API (calendar
// periods are computed there, once for the whole package).
#include <pybind11/stl.h>

#include <limits>
#include <optional>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/audit.hpp"

namespace funnelkit::python {
namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

double or_nan(const std::optional<double>& v) { return v ? *v : nan; }

py::dict summary_dict(const audit_summary& s) {
    py::dict d;
    d["leads"] = s.leads;
    d["mqls"] = s.mqls;
    d["accepted"] = s.accepted;
    d["sqls"] = s.sqls;
    d["won"] = s.won;
    d["closed"] = s.closed;
    d["mql_sqls"] = s.mql_sqls;
    d["mql_sql_won"] = s.mql_sql_won;
    d["tp"] = s.tp;
    d["fp"] = s.fp;
    d["fn"] = s.fn;
    d["tn"] = s.tn;
    d["acceptance_rate"] = or_nan(s.acceptance_rate);
    d["mql_to_sql"] = or_nan(s.mql_to_sql);
    d["sql_to_won"] = or_nan(s.sql_to_won);
    d["precision"] = or_nan(s.precision);
    d["recall"] = or_nan(s.recall);
    d["auc"] = or_nan(s.auc);
    d["mean_score"] = or_nan(s.mean_score);
    return d;
}

py::dict result_dict(const audit_result& r) {
    py::dict d;
    d["overall"] = summary_dict(r.overall);
    std::vector<double> rt, rf, rtp;
    for (const auto& p : r.roc) rt.push_back(p.threshold), rf.push_back(p.fpr), rtp.push_back(p.tpr);
    py::dict roc;
    roc["threshold"] = to_numpy(std::move(rt));
    roc["fpr"] = to_numpy(std::move(rf));
    roc["tpr"] = to_numpy(std::move(rtp));
    d["roc"] = roc;
    std::vector<double> th, pr, rc, f1;
    std::vector<std::int64_t> mq, tp, fp, fn, tn;
    for (const auto& p : r.sweep) {
        th.push_back(p.threshold), mq.push_back(p.mqls), tp.push_back(p.tp), fp.push_back(p.fp);
        fn.push_back(p.fn), tn.push_back(p.tn), pr.push_back(or_nan(p.precision));
        rc.push_back(or_nan(p.recall)), f1.push_back(or_nan(p.f1));
    }
    py::dict sw;
    sw["threshold"] = to_numpy(std::move(th));
    sw["mqls"] = to_numpy(std::move(mq));
    sw["tp"] = to_numpy(std::move(tp));
    sw["fp"] = to_numpy(std::move(fp));
    sw["fn"] = to_numpy(std::move(fn));
    sw["tn"] = to_numpy(std::move(tn));
    sw["precision"] = to_numpy(std::move(pr));
    sw["recall"] = to_numpy(std::move(rc));
    sw["f1"] = to_numpy(std::move(f1));
    d["sweep"] = sw;
    py::list by;
    for (const auto& s : r.by_period) by.append(summary_dict(s));
    d["periods"] = r.periods;
    d["by_period"] = by;
    return d;
}

}  // namespace
}  // namespace funnelkit::python

void funnelkit::python::register_audit(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    py::class_<audit_options>(m, "AuditOptions")
        .def(py::init([](std::optional<double> threshold, std::vector<double> sweep) {
                 return audit_options{.threshold = threshold, .sweep = std::move(sweep)};
             }),
             py::kw_only(), py::arg("threshold") = py::none(), py::arg("sweep") = std::vector<double>{})
        .def_readonly("threshold", &audit_options::threshold)
        .def_readonly("sweep", &audit_options::sweep);

    m.def("qualification_audit",
          [](const std::optional<array<double>>& score, const std::optional<array<std::uint8_t>>& mql,
             const std::optional<array<std::uint8_t>>& accepted, const std::optional<array<std::uint8_t>>& sql,
             const array<std::uint8_t>& won, const std::optional<array<std::uint8_t>>& closed,
             const std::optional<array<std::int32_t>>& period, const audit_options& options) {
              const audit_columns c{optional_column(score, "score"), optional_column(mql, "mql"),
                                    optional_column(accepted, "accepted"), optional_column(sql, "sql"),
                                    column(won, "won"), optional_column(closed, "closed"),
                                    optional_column(period, "period")};
              audit_result r;
              {
                  py::gil_scoped_release release;
                  r = qualification_audit(c, options);
              }
              return result_dict(r);
          },
          py::kw_only(), py::arg("score") = py::none(), py::arg("mql") = py::none(), py::arg("accepted") = py::none(),
          py::arg("sql") = py::none(), py::arg("won"), py::arg("closed") = py::none(), py::arg("period") = py::none(),
          py::arg("options") = audit_options{});

    m.def("roc_auc", [](const array<double>& s, const array<std::uint8_t>& y) {
        return roc_auc(column(s, "score"), column(y, "label"));
    }, py::arg("score"), py::arg("label"));
}
