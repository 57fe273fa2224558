// Bindings of closed-loop reporting: attribution, suppression, the qualification audit and the
// campaign report. Thin: columns in as numpy arrays, results out as dicts of numpy arrays; the
// pure-Python module funnelkit.closed_loop builds the public API over them.
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include <cmath>
#include <limits>
#include <optional>

#include "bindings.hpp"
#include "funnelkit/attribution.hpp"
#include "funnelkit/audit.hpp"
#include "funnelkit/campaign.hpp"
#include "funnelkit/markov.hpp"
#include "funnelkit/suppression.hpp"

namespace funnelkit::python {
namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

double or_nan(const std::optional<double>& v) { return v ? *v : nan; }

// Arrow large_string buffers as a string column (validated by the core).
string_column strings(const array<char>& data, const array<std::int64_t>& offsets, const char* name) {
    return {column(data, name), column(offsets, name)};
}

key_transform parse_transform(const std::string& t) {
    if (t == "normalise" || t == "normalize") return key_transform::normalise;
    if (t == "email_domain") return key_transform::email_domain;
    detail::throw_option("transform", t, "is not a key transform (expected 'normalise' or 'email_domain')");
}

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

// Columns of campaign rows (total row last).
py::dict campaign_dict(const campaign_report_result& r) {
    std::vector<const campaign_row*> rows;
    for (const auto& row : r.rows) rows.push_back(&row);
    rows.push_back(&r.total);
    const std::size_t n = rows.size();
    auto ints = [&](auto get) {
        std::vector<std::int64_t> v(n);
        for (std::size_t i = 0; i < n; ++i) v[i] = get(*rows[i]);
        return to_numpy(std::move(v));
    };
    auto reals = [&](auto get) {
        std::vector<double> v(n);
        for (std::size_t i = 0; i < n; ++i) v[i] = get(*rows[i]);
        return to_numpy(std::move(v));
    };
    py::dict d;
    d["segment"] = ints([](const campaign_row& x) { return x.segment; });
    d["leads"] = ints([](const campaign_row& x) { return x.leads; });
    d["mqls"] = ints([](const campaign_row& x) { return x.mqls; });
    d["sqls"] = ints([](const campaign_row& x) { return x.sqls; });
    d["opportunities"] = ints([](const campaign_row& x) { return x.opportunities; });
    d["won"] = ints([](const campaign_row& x) { return x.won; });
    d["lost"] = ints([](const campaign_row& x) { return x.lost; });
    d["revenue"] = reals([](const campaign_row& x) { return x.revenue; });
    d["cost"] = reals([](const campaign_row& x) { return or_nan(x.cost); });
    d["cost_missing"] = ints([](const campaign_row& x) { return x.cost_missing ? 1 : 0; });
    d["cost_per_lead"] = reals([](const campaign_row& x) { return or_nan(x.cost_per_lead); });
    d["cost_per_mql"] = reals([](const campaign_row& x) { return or_nan(x.cost_per_mql); });
    d["cac"] = reals([](const campaign_row& x) { return or_nan(x.cac); });
    d["roi"] = reals([](const campaign_row& x) { return or_nan(x.roi); });
    const std::pair<const char*, rate_estimate campaign_row::*> rates[] = {
        {"lead_to_mql", &campaign_row::lead_to_mql},
        {"mql_to_sql", &campaign_row::mql_to_sql},
        {"sql_to_opportunity", &campaign_row::sql_to_opportunity},
        {"opportunity_to_won", &campaign_row::opportunity_to_won},
        {"lead_to_won", &campaign_row::lead_to_won}};
    for (const auto& [name, member] : rates) {
        const std::string base(name);
        d[py::str(base)] = reals([member](const campaign_row& x) { return or_nan((x.*member).rate); });
        d[py::str(base + "_lower")] = reals([member](const campaign_row& x) { return or_nan((x.*member).lower); });
        d[py::str(base + "_upper")] = reals([member](const campaign_row& x) { return or_nan((x.*member).upper); });
    }
    d["days_to_win"] = reals([](const campaign_row& x) { return or_nan(x.days_to_win); });
    d["average_deal"] = reals([](const campaign_row& x) { return or_nan(x.average_deal); });
    d["win_rate"] = reals([](const campaign_row& x) { return or_nan(x.win_rate); });
    d["velocity"] = reals([](const campaign_row& x) { return or_nan(x.velocity); });
    d["z"] = reals([](const campaign_row& x) { return or_nan(x.z); });
    d["p_value"] = reals([](const campaign_row& x) { return or_nan(x.p_value); });
    d["p_holm"] = reals([](const campaign_row& x) { return or_nan(x.p_holm); });
    d["missing_cost"] = r.missing_cost;
    return d;
}

suppression_list list_from_bytes(const py::bytes& b) {
    const auto v = bytes_view(b);
    return suppression_list::deserialize(v.data(), v.size());
}

}  // namespace
}  // namespace funnelkit::python

FUNNELKIT_PYTHON_BINDING(closed_loop, 20) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    py::class_<path_set>(m, "PathSet")
        .def(py::init([](const array<std::int64_t>& path, const array<std::int64_t>& time,
                         const array<std::int32_t>& channel, const std::optional<array<std::uint8_t>>& milestone,
                         const array<std::int64_t>& out_path, const array<std::uint8_t>& converted,
                         const std::optional<array<double>>& value,
                         const std::optional<array<std::int64_t>>& conversion_time, std::int32_t n_channels) {
                 const touch_columns t{column(path, "path"), column(time, "time"), column(channel, "channel"),
                                       optional_column(milestone, "milestone")};
                 const outcome_columns o{column(out_path, "outcome path"), column(converted, "converted"),
                                         optional_column(value, "value"),
                                         optional_column(conversion_time, "conversion_time")};
                 py::gil_scoped_release release;
                 return path_set(t, o, n_channels);
             }),
             py::arg("path"), py::arg("time"), py::arg("channel"), py::arg("milestone"), py::arg("out_path"),
             py::arg("converted"), py::arg("value"), py::arg("conversion_time"), py::arg("n_channels"))
        .def_property_readonly("n_paths", &path_set::n_paths)
        .def_property_readonly("n_channels", &path_set::n_channels);

    m.def("attribute",
          [](const path_set& ps, const std::string& model, std::vector<double> u, std::vector<double> w,
             double half_life, std::vector<double> head, std::vector<double> tail, double middle, int order,
             const std::string& game, int exact_max, std::int64_t samples, std::uint64_t seed) {
              attribution_options op;
              op.model = parse_attribution_model(model);
              if (u.size() != 3) detail::throw_option("u_weights", std::to_string(u.size()) + " values", "must hold 3 weights");
              if (w.size() != 4) detail::throw_option("w_weights", std::to_string(w.size()) + " values", "must hold 4 weights");
              op.u_first = u[0], op.u_middle = u[1], op.u_last = u[2];
              op.w_first = w[0], op.w_lead = w[1], op.w_opportunity = w[2], op.w_rest = w[3];
              op.half_life = half_life;
              op.head = std::move(head);
              op.tail = std::move(tail);
              op.middle = middle;
              op.markov_order = order;
              if (game == "covered_value") op.game = shapley_game::covered_value;
              else if (game == "value_rate") op.game = shapley_game::value_rate;
              else detail::throw_option("shapley_game", game, "is not 'covered_value' or 'value_rate'");
              op.shapley_exact_max = exact_max;
              op.shapley_samples = samples;
              op.seed = seed;
              attribution_result r;
              {
                  py::gil_scoped_release release;
                  r = attribute(ps, op);
              }
              py::dict d;
              d["conversions"] = to_numpy(std::move(r.conversions));
              d["value"] = to_numpy(std::move(r.value));
              d["score"] = to_numpy(std::move(r.score));
              d["total_conversions"] = r.total_conversions;
              d["total_value"] = r.total_value;
              d["unattributed_conversions"] = r.unattributed_conversions;
              d["unattributed_value"] = r.unattributed_value;
              d["paths"] = r.paths;
              d["converting_paths"] = r.converting_paths;
              d["base"] = r.base;
              d["exact"] = r.exact;
              return d;
          },
          py::arg("paths"), py::arg("model"), py::arg("u_weights"), py::arg("w_weights"), py::arg("half_life"),
          py::arg("head"), py::arg("tail"), py::arg("middle"), py::arg("markov_order"), py::arg("shapley_game"),
          py::arg("shapley_exact_max"), py::arg("shapley_samples"), py::arg("seed"));

    m.def("solve_absorbing_chain",
          [](const py::array_t<double, py::array::c_style | py::array::forcecast>& q,
             const py::array_t<double, py::array::c_style | py::array::forcecast>& r) {
              if (q.ndim() != 2 || r.ndim() != 2 || q.shape(0) != q.shape(1) || r.shape(0) != q.shape(0))
                  throw invalid_argument("option 'q', 'r': expected a square Q and an R with as many rows");
              const auto nt = static_cast<std::size_t>(q.shape(0)), na = static_cast<std::size_t>(r.shape(1));
              auto s = solve_absorbing_chain(nt, na, {q.data(), nt * nt}, {r.data(), nt * na});
              py::dict d;
              d["absorption"] = to_numpy(std::move(s.absorption));
              d["expected_steps"] = to_numpy(std::move(s.expected_steps));
              d["fundamental"] = to_numpy(std::move(s.fundamental));
              return d;
          },
          py::arg("q"), py::arg("r"));

    m.def("normalise_key", [](const std::string& key, const std::string& transform) {
        return normalise_key(key, parse_transform(transform));
    }, py::arg("key"), py::arg("transform") = "normalise");

    py::class_<suppression_list>(m, "SuppressionList")
        .def(py::init<>())
        .def("add_ids",
             [](suppression_list& s, const array<std::int64_t>& ids, const array<std::int32_t>& codes,
                const std::vector<std::string>& names) { s.add_ids(column(ids, "id"), column(codes, "reason"), names); },
             py::arg("ids"), py::arg("reason_codes"), py::arg("reason_names"))
        .def("add_keys",
             [](suppression_list& s, const std::string& kind, const array<char>& data, const array<std::int64_t>& offsets,
                const std::string& transform, const array<std::int32_t>& codes, const std::vector<std::string>& names) {
                 s.add_keys({kind, strings(data, offsets, "key"), parse_transform(transform)}, column(codes, "reason"), names);
             },
             py::arg("kind"), py::arg("data"), py::arg("offsets"), py::arg("transform"), py::arg("reason_codes"),
             py::arg("reason_names"))
        .def("check",
             [](const suppression_list& s, const std::optional<array<std::int64_t>>& ids,
                const std::vector<std::tuple<std::string, array<char>, array<std::int64_t>, std::string>>& keys) {
                 std::vector<key_column> cols;
                 for (const auto& [kind, data, offsets, tf] : keys)
                     cols.push_back({kind, strings(data, offsets, "key"), parse_transform(tf)});
                 const auto idv = optional_column(ids, "id");
                 suppression_check r;
                 {
                     py::gil_scoped_release release;
                     r = s.check(idv, cols);
                 }
                 py::dict d;
                 d["suppressed"] = to_numpy(std::move(r.suppressed));
                 d["reasons"] = to_numpy(std::move(r.reasons));
                 d["matched_by"] = to_numpy(std::move(r.matched_by));
                 d["count"] = r.count;
                 return d;
             },
             py::arg("ids"), py::arg("keys"))
        .def_property_readonly("reasons", &suppression_list::reasons)
        .def_property_readonly("n_ids", &suppression_list::n_ids)
        .def_property_readonly("n_keys", &suppression_list::n_keys)
        .def_property_readonly("kinds", &suppression_list::kinds)
        .def("describe", &suppression_list::describe, py::arg("mask"))
        .def("id_reasons", &suppression_list::id_reasons, py::arg("id"))
        .def("key_reasons",
             [](const suppression_list& s, const std::string& kind, const std::string& key, const std::string& tf) {
                 return s.key_reasons(kind, key, parse_transform(tf));
             },
             py::arg("kind"), py::arg("key"), py::arg("transform") = "normalise")
        .def("merge", &suppression_list::merge, py::arg("other"))
        .def("reset", &suppression_list::reset)
        .def("serialize", [](const suppression_list& s) { return to_bytes(s.serialize()); })
        .def_static("deserialize", &list_from_bytes, py::arg("data"))
        .def("copy", [](const suppression_list& s) { return suppression_list(s); })
        .def(py::self == py::self);

    m.def("audit_qualification",
          [](const std::optional<array<double>>& score, const std::optional<array<std::uint8_t>>& mql,
             const std::optional<array<std::uint8_t>>& accepted, const std::optional<array<std::uint8_t>>& sql,
             const array<std::uint8_t>& won, const std::optional<array<std::uint8_t>>& closed,
             const std::optional<array<std::int32_t>>& period, std::optional<double> threshold,
             std::vector<double> sweep) {
              const audit_columns c{optional_column(score, "score"), optional_column(mql, "mql"),
                                    optional_column(accepted, "accepted"), optional_column(sql, "sql"),
                                    column(won, "won"), optional_column(closed, "closed"),
                                    optional_column(period, "period")};
              audit_result r;
              {
                  py::gil_scoped_release release;
                  r = qualification_audit(c, {.threshold = threshold, .sweep = std::move(sweep)});
              }
              py::dict d;
              d["overall"] = summary_dict(r.overall);
              std::vector<double> rt, rf, rtp;
              for (const auto& p : r.roc) rt.push_back(p.threshold), rf.push_back(p.fpr), rtp.push_back(p.tpr);
              py::dict roc;
              roc["threshold"] = to_numpy(std::move(rt));
              roc["fpr"] = to_numpy(std::move(rf));
              roc["tpr"] = to_numpy(std::move(rtp));
              d["roc"] = roc;
              py::dict sw;
              std::vector<double> th, pr, rc, f1;
              std::vector<std::int64_t> mq, tp, fp, fn, tn;
              for (const auto& p : r.sweep) {
                  th.push_back(p.threshold), mq.push_back(p.mqls), tp.push_back(p.tp), fp.push_back(p.fp);
                  fn.push_back(p.fn), tn.push_back(p.tn), pr.push_back(or_nan(p.precision));
                  rc.push_back(or_nan(p.recall)), f1.push_back(or_nan(p.f1));
              }
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
          },
          py::arg("score"), py::arg("mql"), py::arg("accepted"), py::arg("sql"), py::arg("won"), py::arg("closed"),
          py::arg("period"), py::arg("threshold"), py::arg("sweep"));

    m.def("roc_auc", [](const array<double>& s, const array<std::uint8_t>& y) {
        return roc_auc(column(s, "score"), column(y, "label"));
    }, py::arg("score"), py::arg("label"));

    m.def("month_index", [](const array<std::int64_t>& t) {
        const auto v = column(t, "time");
        std::vector<std::int32_t> out(v.size());
        for (std::size_t i = 0; i < v.size(); ++i) out[i] = month_index(v[i]);
        return to_numpy(std::move(out));
    }, py::arg("unix_seconds"));

    m.def("campaign_report",
          [](const stage_model& model, const array<std::int64_t>& entity, const array<std::int64_t>& time,
             const array<std::int32_t>& stage, const array<std::int32_t>& segment,
             const std::optional<array<double>>& amount, std::vector<double> cost, const std::string& mql_stage,
             const std::string& sql_stage, const std::string& opportunity_stage, const std::string& skipped,
             double level, double seconds_per_day) {
              const stage_records rec{column(entity, "entity"), column(time, "time"), column(stage, "stage"),
                                      column(segment, "segment"), optional_column(amount, "amount")};
              campaign_options op;
              op.cost = std::move(cost);
              op.mql_stage = mql_stage;
              op.sql_stage = sql_stage;
              op.opportunity_stage = opportunity_stage;
              op.skipped = skipped == "recorded" ? skipped_stages::not_implied : skipped_stages::implied;
              op.level = level;
              op.seconds_per_day = seconds_per_day;
              campaign_report_result r;
              {
                  py::gil_scoped_release release;
                  r = campaign_report(model, rec, op);
              }
              return campaign_dict(r);
          },
          py::arg("model"), py::arg("entity"), py::arg("time"), py::arg("stage"), py::arg("segment"),
          py::arg("amount"), py::arg("cost"), py::arg("mql_stage"), py::arg("sql_stage"),
          py::arg("opportunity_stage"), py::arg("skipped"), py::arg("level"), py::arg("seconds_per_day"));
}
