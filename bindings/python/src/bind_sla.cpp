// Bindings of SLA compliance (sla.hpp): the commitment as a class with keyword arguments, a
// response SLA and a volume SLA evaluated as of a time. Results come back as dicts of numpy
// columns with the core's explanation; the Python module funnelkit.sla wraps them.
#include <pybind11/stl.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "bind_options.hpp"
#include "bindings.hpp"
#include "funnelkit/sla.hpp"

namespace funnelkit::python {
namespace {

const std::initializer_list<const char*> kind_words = {"response", "volume"};

py::dict groups_dict(const std::vector<sla_group>& groups) {
    py::list by;
    std::vector<std::int32_t> code;
    std::vector<std::int64_t> met, breached, pending, ns, untouched;
    std::vector<double> comp, mean_over, max_over;
    for (const auto& x : groups) {
        by.append(x.by); code.push_back(x.code); met.push_back(x.met); breached.push_back(x.breached);
        pending.push_back(x.pending); ns.push_back(x.not_started); untouched.push_back(x.breached_untouched);
        comp.push_back(or_nan(x.compliance)); mean_over.push_back(x.mean_over); max_over.push_back(x.max_over);
    }
    py::dict g;
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
    return g;
}

py::dict breaches_dict(const std::vector<sla_breach>& breaches) {
    const std::size_t n = breaches.size();
    std::vector<std::int64_t> row(n), cr(n), dl(n), over(n);
    std::vector<std::int32_t> rp(n), tm(n), sg(n);
    std::vector<double> od(n);
    std::vector<std::uint8_t> touched(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto& x = breaches[i];
        row[i] = static_cast<std::int64_t>(x.row); cr[i] = x.created; dl[i] = x.deadline; over[i] = x.over;
        rp[i] = x.rep; tm[i] = x.team; sg[i] = x.segment; od[i] = x.over_display; touched[i] = x.touched;
    }
    py::dict b;
    b["row"] = to_numpy(std::move(row));
    b["rep"] = to_numpy(std::move(rp));
    b["team"] = to_numpy(std::move(tm));
    b["segment"] = to_numpy(std::move(sg));
    b["created"] = to_numpy(std::move(cr));
    b["deadline"] = to_numpy(std::move(dl));
    b["over"] = to_numpy(std::move(over));
    b["over_display"] = to_numpy(std::move(od));
    b["touched"] = to_numpy(std::move(touched));
    return b;
}

py::dict volume_dict(const volume_sla_result& res) {
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
    d["explanation"] = res.explain();
    return d;
}

}  // namespace

void register_sla(py::module_& m) {
    py::class_<sla_commitment> sc(m, "SlaCommitment", "One commitment of one team, as data.");
    sc.def(py::init([](const std::string& name, const std::string& team, const std::string& kind, std::int64_t limit,
                       std::int32_t touches, double target, const std::string& unit_name, double display_unit) {
               sla_commitment c;
               c.name = name;
               c.team = team;
               c.kind = pick<sla_kind>("kind", kind, kind_words);
               c.limit = limit;
               c.touches = touches;
               c.target = target;
               c.unit_name = unit_name;
               c.display_unit = display_unit;
               c.validate();
               return c;
           }),
           py::kw_only(), py::arg("name"), py::arg("team"), py::arg("kind"), py::arg("limit") = 0,
           py::arg("touches") = 1, py::arg("target") = 0.0, py::arg("unit_name") = "hour",
           py::arg("display_unit") = 3600.0)
        .def_readwrite("name", &sla_commitment::name)
        .def_readwrite("team", &sla_commitment::team, "The team that owes it.")
        .def_property(
            "kind", [](const sla_commitment& c) { return word(c.kind, kind_words); },
            [](sla_commitment& c, const std::string& v) { c.kind = pick<sla_kind>("kind", v, kind_words); },
            "'response' or 'volume'.")
        .def_readwrite("limit", &sla_commitment::limit, "Response: the limit in ticks of the records.")
        .def_readwrite("touches", &sla_commitment::touches, "Response: touches needed within the limit.")
        .def_readwrite("target", &sla_commitment::target, "Volume: events per rep per period.")
        .def_readwrite("unit_name", &sla_commitment::unit_name, "Name of the display unit of 'over' ('hour').")
        .def_readwrite("display_unit", &sla_commitment::display_unit, "Ticks in one display unit.");

    m.def("sla_response",
          [](const sla_commitment& commitment, const array<std::int64_t>& created, std::int64_t as_of,
             const std::optional<array<std::int64_t>>& first_touch, const std::optional<array<std::int32_t>>& rep,
             const std::optional<array<std::int32_t>>& team, const std::optional<array<std::int32_t>>& segment,
             const std::optional<array<std::int64_t>>& touch_item,
             const std::optional<array<std::int64_t>>& touch_time) {
              response_records r{column(created, "created"), optional_column(first_touch, "first_touch"),
                                 optional_column(rep, "rep"), optional_column(team, "team"),
                                 optional_column(segment, "segment")};
              touch_records t{optional_column(touch_item, "touch item"), optional_column(touch_time, "touch time")};
              response_sla_result res;
              {
                  py::gil_scoped_release release;
                  res = funnelkit::sla_response(commitment, r, as_of, t);
              }
              std::vector<std::int8_t> status(res.status.size());
              for (std::size_t i = 0; i < status.size(); ++i) status[i] = static_cast<std::int8_t>(res.status[i]);
              py::dict d;
              d["status"] = to_numpy(std::move(status));
              d["groups"] = groups_dict(res.groups);
              d["breaches"] = breaches_dict(res.breaches);
              d["explanation"] = res.explain();
              return d;
          },
          "A response SLA as of a time: status per item, counts per group, breaches.", py::arg("commitment"),
          py::arg("created"), py::arg("as_of"), py::kw_only(), py::arg("first_touch") = py::none(),
          py::arg("rep") = py::none(), py::arg("team") = py::none(), py::arg("segment") = py::none(),
          py::arg("touch_item") = py::none(), py::arg("touch_time") = py::none());

    m.def("sla_volume",
          [](const sla_commitment& commitment, const array<std::int64_t>& time, const array<std::int32_t>& rep,
             const array<std::int64_t>& starts, const array<std::int64_t>& ends, std::int64_t as_of,
             std::int32_t reps) {
              volume_records r{column(time, "time"), column(rep, "rep")};
              const auto p = make_periods(starts, ends);
              volume_sla_result res;
              {
                  py::gil_scoped_release release;
                  res = funnelkit::sla_volume(commitment, r, p, as_of, reps);
              }
              return volume_dict(res);
          },
          "A volume SLA per period [starts, ends) and rep as of a time.", py::arg("commitment"), py::arg("time"),
          py::arg("rep"), py::arg("starts"), py::arg("ends"), py::arg("as_of"), py::kw_only(), py::arg("reps"));
}

}  // namespace funnelkit::python

