// Bindings of the revenue math: sales velocity and its driver split, the reverse-funnel and
// lag planners, and SLA compliance. Results come back as dicts of numpy columns plus the JSON
// text of each explanation; the Python module funnelkit.revenue wraps them.
#include <pybind11/stl.h>

#include <cmath>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/planning.hpp"
#include "funnelkit/sla.hpp"
#include "funnelkit/velocity.hpp"

namespace funnelkit::python {
namespace {

template <class E>
E pick(const std::string& option, const std::string& value, std::initializer_list<const char*> names) {
    int i = 0;
    std::string list;
    for (const char* n : names) {
        if (value == n) return static_cast<E>(i);
        list += (i ? ", '" : "'") + std::string(n) + "'";
        ++i;
    }
    throw funnelkit::invalid_argument("option '" + option + "': value '" + value + "' is not one of " + list);
}

double or_nan(const std::optional<double>& v) { return v ? *v : std::numeric_limits<double>::quiet_NaN(); }

std::vector<period> make_periods(const array<std::int64_t>& starts, const array<std::int64_t>& ends) {
    auto s = column(starts, "period start");
    auto e = column(ends, "period end");
    if (s.size() != e.size()) funnelkit::detail::throw_length("period end", e.size(), "period start", s.size());
    std::vector<period> p(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) p[i] = {s[i], e[i]};
    return p;
}

py::dict velocity_dict(const std::vector<velocity_result>& res) {
    const std::size_t n = res.size();
    std::vector<std::int64_t> period_index(n), start(n), end(n), N(n), won(n), lost(n), cd(n), cm(n);
    std::vector<std::int32_t> segment(n), bu(n);
    std::vector<double> wa(n), la(n), D(n), W(n), L(n), V(n), lo(n), hi(n);
    py::list status, reason, expl;
    for (std::size_t i = 0; i < n; ++i) {
        const auto& r = res[i];
        period_index[i] = static_cast<std::int64_t>(r.period_index);
        start[i] = r.interval.start;
        end[i] = r.interval.end;
        segment[i] = r.segment;
        N[i] = r.n; won[i] = r.won; lost[i] = r.lost; cd[i] = r.cycle_deals; cm[i] = r.cycle_missing;
        wa[i] = r.won_amount; la[i] = r.lost_amount;
        D[i] = or_nan(r.deal_value); W[i] = or_nan(r.win_rate); L[i] = or_nan(r.cycle_length); V[i] = or_nan(r.velocity);
        lo[i] = or_nan(r.ci_lower); hi[i] = or_nan(r.ci_upper);
        bu[i] = r.bootstrap_undefined;
        status.append(std::string(to_string(r.status)));
        reason.append(r.reason);
        expl.append(r.explain().json());
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

lag_model make_lag_model(double win_rate, const std::vector<double>& shares, double deal_value) {
    lag_model m{win_rate, shares, deal_value};
    m.validate();
    return m;
}

}  // namespace
}  // namespace funnelkit::python

FUNNELKIT_PYTHON_BINDING(revenue, 50) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    m.attr("missing_time") = missing_time;

    m.def("velocity",
          [](const array<std::int64_t>& created, const array<std::int64_t>& closed, const array<std::int8_t>& outcome,
             const array<double>& amount, const std::optional<array<std::int32_t>>& segment,
             const std::optional<array<std::int64_t>>& sql_time, const std::optional<array<std::int64_t>>& first_touch,
             const array<std::int64_t>& starts, const array<std::int64_t>& ends, const std::string& count,
             const std::string& win_rate, const std::string& cycle_from, const std::string& cycle_over,
             const std::string& cycle_stat, double time_unit, const std::string& unit_name, std::int32_t bootstrap,
             double confidence, std::uint64_t seed) {
              opportunity_records r{column(created, "created"), column(closed, "closed"), column(outcome, "outcome"),
                                    column(amount, "amount"), optional_column(segment, "segment"),
                                    optional_column(sql_time, "sql_time"), optional_column(first_touch, "first_touch")};
              velocity_options o;
              o.count = pick<count_basis>("count", count, {"created_in_period", "open_at_start"});
              o.win_rate = pick<win_rate_basis>("win_rate", win_rate, {"count", "value"});
              o.cycle_from = pick<cycle_start>("cycle_from", cycle_from, {"created", "sql", "first_touch"});
              o.cycle_over = pick<cycle_deals>("cycle_over", cycle_over, {"won", "closed"});
              o.cycle_stat = pick<cycle_statistic>("cycle_stat", cycle_stat, {"mean", "median"});
              o.time_unit = time_unit;
              o.unit_name = unit_name;
              o.bootstrap = bootstrap;
              o.confidence = confidence;
              o.seed = seed;
              const auto p = make_periods(starts, ends);
              std::vector<velocity_result> res;
              {
                  py::gil_scoped_release release;
                  res = velocity(r, p, o);
              }
              return velocity_dict(res);
          },
          py::arg("created"), py::arg("closed"), py::arg("outcome"), py::arg("amount"), py::arg("segment"),
          py::arg("sql_time"), py::arg("first_touch"), py::arg("starts"), py::arg("ends"), py::arg("count"),
          py::arg("win_rate"), py::arg("cycle_from"), py::arg("cycle_over"), py::arg("cycle_stat"),
          py::arg("time_unit"), py::arg("unit_name"), py::arg("bootstrap"), py::arg("confidence"), py::arg("seed"));

    m.def("velocity_formula", &velocity_formula, py::arg("n"), py::arg("deal_value"), py::arg("win_rate"),
          py::arg("cycle_length"));

    m.def("decompose_velocity",
          [](double n0, double d0, double w0, double l0, double n1, double d1, double w1, double l1) {
              const auto r = decompose_velocity(n0, d0, w0, l0, n1, d1, w1, l1);
              py::dict d;
              d["v0"] = r.v0; d["v1"] = r.v1; d["weight"] = r.weight;
              d["log"] = std::vector<double>{r.log_n, r.log_d, r.log_w, r.log_l};
              d["additive"] = std::vector<double>{r.n, r.d, r.w, r.l};
              d["explanation"] = r.explain().json();
              return d;
          },
          py::arg("n0"), py::arg("d0"), py::arg("w0"), py::arg("l0"), py::arg("n1"), py::arg("d1"), py::arg("w1"),
          py::arg("l1"));

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
          py::arg("model"), py::arg("entity"), py::arg("time"), py::arg("stage"), py::arg("segment") = py::none(),
          py::arg("amount") = py::none(), py::arg("opportunity_stage") = "Opportunity", py::arg("sql_stage") = "SQL");

    m.def("ceil_whole", &ceil_whole, py::arg("x"), py::arg("tolerance") = whole_tolerance);

    m.def("plan_reverse_funnel",
          [](double goal, const std::string& basis, double deal_value, const std::vector<std::string>& names,
             const std::vector<double>& rates, const std::string& won_name, std::int32_t periods, std::int32_t reps,
             const std::string& rounding, double tolerance) {
              if (names.size() != rates.size())
                  detail::throw_length("rates", rates.size(), "steps", names.size());
              reverse_funnel_options o;
              o.goal = goal;
              o.basis = pick<goal_basis>("goal_basis", basis, {"total", "per_period"});
              o.deal_value = deal_value;
              for (std::size_t i = 0; i < names.size(); ++i) o.steps.push_back({names[i], rates[i]});
              o.won_name = won_name;
              o.periods = periods;
              o.reps = reps;
              o.rounding = pick<plan_rounding>("rounding", rounding, {"from_goal", "chained"});
              o.tolerance = tolerance;
              const auto plan = plan_reverse_funnel(o);
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
              d["explanation"] = plan.explain().json();
              return d;
          },
          py::arg("goal"), py::arg("basis"), py::arg("deal_value"), py::arg("names"), py::arg("rates"),
          py::arg("won_name"), py::arg("periods"), py::arg("reps"), py::arg("rounding"), py::arg("tolerance"));

    m.def("reps_needed",
          [](double volume, double capacity, const std::string& per, double tolerance) {
              const auto r = reps_needed(volume, capacity, pick<capacity_unit>("per", per, {"week", "month"}), tolerance);
              py::dict d;
              d["volume_per_month"] = r.volume_per_month;
              d["capacity"] = r.capacity;
              d["capacity_per_month"] = r.capacity_per_month;
              d["exact_reps"] = r.exact_reps;
              d["reps"] = r.reps;
              d["explanation"] = r.explain().json();
              return d;
          },
          py::arg("volume_per_month"), py::arg("capacity"), py::arg("per"), py::arg("tolerance") = whole_tolerance);

    m.def("split_goal",
          [](double goal, const std::vector<std::string>& names, const std::vector<double>& shares) {
              if (names.size() != shares.size()) detail::throw_length("shares", shares.size(), "names", names.size());
              std::vector<goal_share> s;
              for (std::size_t i = 0; i < names.size(); ++i) s.push_back({names[i], shares[i]});
              std::vector<double> out;
              for (const auto& r : split_goal(goal, s)) out.push_back(r.goal);
              return out;
          },
          py::arg("goal"), py::arg("names"), py::arg("shares"));

    m.def("estimate_lags",
          [](const array<std::int64_t>& created, const array<std::int64_t>& won,
             const std::optional<array<std::int32_t>>& segment, const std::optional<array<double>>& amount,
             std::int64_t period_length, std::int32_t max_lag, std::int64_t data_end) {
              lag_records r{column(created, "created"), column(won, "won"), optional_column(segment, "segment"),
                            optional_column(amount, "amount")};
              std::vector<lag_distribution> res;
              {
                  py::gil_scoped_release release;
                  res = estimate_lags(r, {period_length, max_lag, data_end});
              }
              py::list out;
              for (const auto& d : res) {
                  py::dict x;
                  x["segment"] = d.segment;
                  x["leads"] = d.leads;
                  x["wins"] = d.wins;
                  x["beyond"] = d.beyond;
                  x["win_rate"] = d.win_rate ? py::object(py::float_(*d.win_rate)) : py::object(py::none());
                  x["shares"] = d.shares;
                  x["deal_value"] = d.deal_value ? py::object(py::float_(*d.deal_value)) : py::object(py::none());
                  x["reason"] = d.reason;
                  x["explanation"] = d.explain().json();
                  out.append(x);
              }
              return out;
          },
          py::arg("created"), py::arg("won"), py::arg("segment"), py::arg("amount"), py::arg("period"),
          py::arg("max_lag"), py::arg("data_end"));

    m.def("project_forward",
          [](double win_rate, const std::vector<double>& shares, double deal_value, const std::vector<double>& leads,
             const std::vector<double>& history) {
              const auto p = project_forward(make_lag_model(win_rate, shares, deal_value), leads, history);
              py::dict d;
              d["wins"] = p.wins;
              d["revenue"] = p.revenue;
              d["from_history"] = p.from_history;
              d["explanation"] = p.explain().json();
              return d;
          },
          py::arg("win_rate"), py::arg("shares"), py::arg("deal_value"), py::arg("leads"), py::arg("history"));

    m.def("plan_leads",
          [](double win_rate, const std::vector<double>& shares, double deal_value, const std::vector<double>& targets,
             const std::vector<double>& history) {
              const auto p = plan_leads(make_lag_model(win_rate, shares, deal_value), targets, history);
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
              d["explanation"] = p.explain().json();
              return d;
          },
          py::arg("win_rate"), py::arg("shares"), py::arg("deal_value"), py::arg("targets"), py::arg("history"));

    m.def("evaluate_response",
          [](const std::string& name, const std::string& team_name, std::int64_t limit, std::int32_t touches,
             const std::string& unit_name, double display_unit, const array<std::int64_t>& created,
             const std::optional<array<std::int64_t>>& first_touch, const std::optional<array<std::int32_t>>& rep,
             const std::optional<array<std::int32_t>>& team, const std::optional<array<std::int32_t>>& segment,
             std::int64_t as_of, const std::optional<array<std::int64_t>>& touch_item,
             const std::optional<array<std::int64_t>>& touch_time) {
              sla_commitment c;
              c.name = name; c.team = team_name; c.kind = sla_kind::response; c.limit = limit; c.touches = touches;
              c.unit_name = unit_name; c.display_unit = display_unit;
              response_records r{column(created, "created"), optional_column(first_touch, "first_touch"),
                                 optional_column(rep, "rep"), optional_column(team, "team"),
                                 optional_column(segment, "segment")};
              touch_records t{optional_column(touch_item, "touch item"), optional_column(touch_time, "touch time")};
              response_sla_result res;
              {
                  py::gil_scoped_release release;
                  res = sla_response(c, r, as_of, t);
              }
              std::vector<std::int8_t> status(res.status.size());
              for (std::size_t i = 0; i < status.size(); ++i) status[i] = static_cast<std::int8_t>(res.status[i]);
              py::dict g;
              {
                  py::list by;
                  std::vector<std::int32_t> code;
                  std::vector<std::int64_t> met, breached, pending, ns, untouched;
                  std::vector<double> comp, mean_over, max_over;
                  for (const auto& x : res.groups) {
                      by.append(x.by); code.push_back(x.code); met.push_back(x.met); breached.push_back(x.breached);
                      pending.push_back(x.pending); ns.push_back(x.not_started); untouched.push_back(x.breached_untouched);
                      comp.push_back(or_nan(x.compliance)); mean_over.push_back(x.mean_over); max_over.push_back(x.max_over);
                  }
                  g["by"] = by;
                  g["code"] = to_numpy(std::move(code));
                  g["met"] = to_numpy(std::move(met));
                  g["breached"] = to_numpy(std::move(breached));
                  g["pending"] = to_numpy(std::move(pending));
                  g["not_started"] = to_numpy(std::move(ns));
                  g["breached_untouched"] = to_numpy(std::move(untouched));
                  g["compliance"] = to_numpy(std::move(comp));
                  g["mean_over"] = to_numpy(std::move(mean_over));
                  g["max_over"] = to_numpy(std::move(max_over));
              }
              py::dict b;
              {
                  const std::size_t n = res.breaches.size();
                  std::vector<std::int64_t> row(n), cr(n), dl(n), over(n);
                  std::vector<std::int32_t> rp(n), tm(n), sg(n);
                  std::vector<double> od(n);
                  std::vector<std::uint8_t> touched(n);
                  for (std::size_t i = 0; i < n; ++i) {
                      const auto& x = res.breaches[i];
                      row[i] = static_cast<std::int64_t>(x.row); cr[i] = x.created; dl[i] = x.deadline; over[i] = x.over;
                      rp[i] = x.rep; tm[i] = x.team; sg[i] = x.segment; od[i] = x.over_display; touched[i] = x.touched;
                  }
                  b["row"] = to_numpy(std::move(row));
                  b["rep"] = to_numpy(std::move(rp));
                  b["team"] = to_numpy(std::move(tm));
                  b["segment"] = to_numpy(std::move(sg));
                  b["created"] = to_numpy(std::move(cr));
                  b["deadline"] = to_numpy(std::move(dl));
                  b["over"] = to_numpy(std::move(over));
                  b["over_display"] = to_numpy(std::move(od));
                  b["touched"] = to_numpy(std::move(touched));
              }
              py::dict d;
              d["status"] = to_numpy(std::move(status));
              d["groups"] = g;
              d["breaches"] = b;
              d["explanation"] = res.explain().json();
              return d;
          },
          py::arg("name"), py::arg("team_name"), py::arg("limit"), py::arg("touches"), py::arg("unit_name"),
          py::arg("display_unit"), py::arg("created"), py::arg("first_touch"), py::arg("rep"), py::arg("team"),
          py::arg("segment"), py::arg("as_of"), py::arg("touch_item"), py::arg("touch_time"));

    m.def("evaluate_volume",
          [](const std::string& name, const std::string& team_name, double target, const array<std::int64_t>& time,
             const array<std::int32_t>& rep, const array<std::int64_t>& starts, const array<std::int64_t>& ends,
             std::int64_t as_of, std::int32_t reps) {
              sla_commitment c;
              c.name = name; c.team = team_name; c.kind = sla_kind::volume; c.target = target;
              volume_records r{column(time, "time"), column(rep, "rep")};
              const auto p = make_periods(starts, ends);
              volume_sla_result res;
              {
                  py::gil_scoped_release release;
                  res = sla_volume(c, r, p, as_of, reps);
              }
              const std::size_t n = res.rows.size();
              std::vector<std::int64_t> pi(n), st(n), en(n);
              std::vector<std::int32_t> rp(n);
              std::vector<double> committed(n), delivered(n), elapsed(n), expected(n), pacing(n), forecast(n), shortfall(n);
              std::vector<std::uint8_t> on_track(n);
              py::list status;
              for (std::size_t i = 0; i < n; ++i) {
                  const auto& x = res.rows[i];
                  pi[i] = static_cast<std::int64_t>(x.period_index); st[i] = x.interval.start; en[i] = x.interval.end;
                  rp[i] = x.rep; committed[i] = x.committed; delivered[i] = x.delivered; elapsed[i] = x.elapsed;
                  expected[i] = x.expected_to_date; pacing[i] = or_nan(x.pacing); forecast[i] = or_nan(x.forecast);
                  shortfall[i] = x.shortfall; on_track[i] = x.on_track;
                  status.append(std::string(to_string(x.status)));
              }
              py::dict d;
              d["period"] = to_numpy(std::move(pi));
              d["start"] = to_numpy(std::move(st));
              d["end"] = to_numpy(std::move(en));
              d["rep"] = to_numpy(std::move(rp));
              d["committed"] = to_numpy(std::move(committed));
              d["delivered"] = to_numpy(std::move(delivered));
              d["elapsed"] = to_numpy(std::move(elapsed));
              d["expected_to_date"] = to_numpy(std::move(expected));
              d["pacing"] = to_numpy(std::move(pacing));
              d["forecast"] = to_numpy(std::move(forecast));
              d["shortfall"] = to_numpy(std::move(shortfall));
              d["on_track"] = to_numpy(std::move(on_track));
              d["status"] = status;
              d["explanation"] = res.explain().json();
              return d;
          },
          py::arg("name"), py::arg("team_name"), py::arg("target"), py::arg("time"), py::arg("rep"), py::arg("starts"),
          py::arg("ends"), py::arg("as_of"), py::arg("reps"));
}
