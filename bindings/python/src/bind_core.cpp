// Bindings of the stage model, the conversion counts and the sample data generator.
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include <limits>
#include <optional>
#include <tuple>

#include "bindings.hpp"
#include "funnelkit/conversion.hpp"
#include "funnelkit/model.hpp"
#include "funnelkit/synthetic.hpp"

namespace funnelkit::python {
namespace {

using stage_tuple = std::tuple<std::string, std::string, std::string>;

stage_model make_model(const std::vector<stage_tuple>& stages, const std::string& recycle_target) {
    std::vector<stage> defs;
    defs.reserve(stages.size());
    for (const auto& [name, owner, kind] : stages) defs.push_back({name, owner, parse_stage_kind(kind)});
    return stage_model(std::move(defs), {.recycle_target = recycle_target});
}

std::vector<stage_tuple> model_tuples(const stage_model& m) {
    std::vector<stage_tuple> out;
    for (const auto& s : m.stages()) out.emplace_back(s.name, s.owner, std::string(to_string(s.kind)));
    return out;
}

std::string recycle_name(const stage_model& m) {
    return m.recycle_target() ? m.at(*m.recycle_target()).name : std::string();
}

py::object optional_rate(std::optional<double> r) { return r ? py::object(py::float_(*r)) : py::object(py::none()); }

}  // namespace
}  // namespace funnelkit::python

FUNNELKIT_PYTHON_BINDING(core, 0) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    py::class_<stage_model>(m, "StageModel")
        .def(py::init(&make_model), py::arg("stages"), py::arg("recycle_target") = "")
        .def_static("b2b", &stage_model::b2b)
        .def_property_readonly("stages", &model_tuples)
        .def_property_readonly("recycle_target", &recycle_name)
        .def_property_readonly("ladder", [](const stage_model& m) {
            return std::vector<std::int32_t>(m.ladder().begin(), m.ladder().end());
        })
        .def_property_readonly("won", [](const stage_model& m) { return m.won(); })
        .def_property_readonly("handoffs", &stage_model::handoffs)
        .def("code_of", &stage_model::code_of, py::arg("name"))
        .def("rank", [](const stage_model& m, std::int32_t code) { (void)m.at(code); return m.rank(code); },
             py::arg("code"))
        .def("__len__", &stage_model::size)
        .def(py::self == py::self)
        .def(py::pickle([](const stage_model& m) { return py::make_tuple(model_tuples(m), recycle_name(m)); },
                        [](const py::tuple& t) {
                            return make_model(t[0].cast<std::vector<stage_tuple>>(), t[1].cast<std::string>());
                        }));

    auto counts = py::class_<conversion_counts>(m, "ConversionCounts");
    counts.def(py::init<>())
        .def(py::init<std::size_t, std::size_t>(), py::arg("n_stages"), py::arg("n_segments"))
        .def_property_readonly("n_stages", &conversion_counts::n_stages)
        .def_property_readonly("n_segments", &conversion_counts::n_segments)
        .def("entities", &conversion_counts::entities, py::arg("segment") = conversion_counts::overall)
        .def("reached", &conversion_counts::reached, py::arg("rank"), py::arg("segment") = conversion_counts::overall)
        .def("step_rate", [](const conversion_counts& c, std::size_t k, std::int32_t s) {
            return optional_rate(c.step_rate(k, s)); }, py::arg("rank"), py::arg("segment") = conversion_counts::overall)
        .def("cumulative_rate", [](const conversion_counts& c, std::size_t k, std::int32_t s) {
            return optional_rate(c.cumulative_rate(k, s)); }, py::arg("rank"), py::arg("segment") = conversion_counts::overall)
        .def("table", [](const conversion_counts& c) {
            // Long table: one row per (segment, rank), overall first (segment -1).
            const std::size_t rows = (c.n_segments() + 1) * c.n_stages();
            std::vector<std::int32_t> seg, rank;
            std::vector<std::int64_t> ent, reached;
            std::vector<double> step, cumulative;
            seg.reserve(rows); rank.reserve(rows); ent.reserve(rows); reached.reserve(rows);
            step.reserve(rows); cumulative.reserve(rows);
            constexpr double undefined = std::numeric_limits<double>::quiet_NaN();
            for (std::int32_t s = -1; s < static_cast<std::int32_t>(c.n_segments()); ++s)
                for (std::size_t k = 0; k < c.n_stages(); ++k) {
                    seg.push_back(s);
                    rank.push_back(static_cast<std::int32_t>(k));
                    ent.push_back(c.entities(s));
                    reached.push_back(c.reached(k, s));
                    step.push_back(c.step_rate(k, s).value_or(undefined));
                    cumulative.push_back(c.cumulative_rate(k, s).value_or(undefined));
                }
            py::dict d;
            d["segment"] = to_numpy(std::move(seg));
            d["rank"] = to_numpy(std::move(rank));
            d["entities"] = to_numpy(std::move(ent));
            d["reached"] = to_numpy(std::move(reached));
            d["step_rate"] = to_numpy(std::move(step));
            d["cumulative_rate"] = to_numpy(std::move(cumulative));
            return d;
        });
    bind_state(counts);

    m.def("conversion",
          [](const stage_model& model, const array<std::int64_t>& entity, const array<std::int64_t>& time,
             const array<std::int32_t>& stage, const std::optional<array<std::int32_t>>& segment,
             const std::string& skipped) {
              stage_records r{column(entity, "entity"), column(time, "time"), column(stage, "stage"),
                              optional_column(segment, "segment")};
              conversion_options o;
              if (skipped == "implied") o.skipped = skipped_stages::implied;
              else if (skipped == "recorded") o.skipped = skipped_stages::not_implied;
              else throw funnelkit::invalid_argument("option 'skipped': value '" + skipped +
                                                     "' is not one of 'implied', 'recorded'");
              py::gil_scoped_release release;
              return conversion(model, r, o);
          },
          py::arg("model"), py::arg("entity"), py::arg("time"), py::arg("stage"), py::arg("segment") = py::none(),
          py::arg("skipped") = "implied");

    m.def("sample_arrays",
          [](std::int64_t leads, std::uint64_t seed, std::int64_t first_lead, std::int64_t start, std::int64_t days,
             std::int32_t reps) {
              sample_data d;
              {
                  py::gil_scoped_release release;
                  generate_sample({.leads = leads, .first_lead = first_lead, .seed = seed, .start = start,
                                   .days = days, .reps = reps}, d);
              }
              py::dict out;
              out["entity"] = to_numpy(std::move(d.entity));
              out["time"] = to_numpy(std::move(d.time));
              out["stage"] = to_numpy(std::move(d.stage));
              out["source"] = to_numpy(std::move(d.source));
              out["campaign"] = to_numpy(std::move(d.campaign));
              out["rep"] = to_numpy(std::move(d.rep));
              out["reason"] = to_numpy(std::move(d.reason));
              out["amount"] = to_numpy(std::move(d.amount));
              out["end"] = d.end;
              return out;
          },
          py::arg("leads"), py::arg("seed"), py::arg("first_lead"), py::arg("start"), py::arg("days"),
          py::arg("reps"));
    m.def("sample_touch_arrays",
          [](std::int64_t leads, std::uint64_t seed, std::int64_t first_lead, std::int64_t start, std::int64_t days,
             std::int32_t reps) {
              sample_touch_data t;
              {
                  py::gil_scoped_release release;
                  const auto crm = generate_sample({.leads = leads, .first_lead = first_lead, .seed = seed,
                                                    .start = start, .days = days, .reps = reps});
                  t = generate_sample_touches(crm, seed);
              }
              py::dict out;
              out["path"] = to_numpy(std::move(t.path));
              out["time"] = to_numpy(std::move(t.time));
              out["channel"] = to_numpy(std::move(t.channel));
              out["milestone"] = to_numpy(std::move(t.milestone));
              out["outcome_path"] = to_numpy(std::move(t.outcome_path));
              out["converted"] = to_numpy(std::move(t.converted));
              out["value"] = to_numpy(std::move(t.value));
              out["conversion_time"] = to_numpy(std::move(t.conversion_time));
              return out;
          },
          py::arg("leads"), py::arg("seed"), py::arg("first_lead"), py::arg("start"), py::arg("days"),
          py::arg("reps"));
    m.def("sample_channels", &sample_channels);
    m.def("sample_sources", &sample_sources);
    m.def("sample_campaigns", &sample_campaigns);
    m.def("sample_campaign_sources", &sample_campaign_sources);
    m.def("sample_reasons", &sample_reasons);
}
