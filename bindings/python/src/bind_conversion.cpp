// Bindings of stage reach and conversion rates (funnelkit/conversion.hpp) and their mergeable
// conversion_counts state.
#include <pybind11/stl.h>

#include <limits>
#include <optional>

#include "bindings.hpp"
#include "funnelkit/conversion.hpp"

namespace funnelkit::python {
namespace {

py::object optional_rate(std::optional<double> r) { return r ? py::object(py::float_(*r)) : py::object(py::none()); }

// _core.conversion over stage and segment codes of type Code, read as Records.
template <class Code, class Records>
void def_conversion(py::module_& m) {
    m.def("conversion",
          [](const stage_model& model, const array<std::int64_t>& entity, const array<std::int64_t>& time,
             const array<Code>& stage, const std::optional<array<Code>>& segment, const std::string& skipped,
             unsigned threads) {
              const Records r{column(entity, "entity"), column(time, "time"), column(stage, "stage"),
                              optional_column(segment, "segment")};
              conversion_options o;
              if (skipped == "implied") o.skipped = skipped_stages::implied;
              else if (skipped == "recorded") o.skipped = skipped_stages::not_implied;
              else throw funnelkit::invalid_argument("option 'skipped': value '" + skipped +
                                                     "' is not one of 'implied', 'recorded'");
              o.threads = threads;
              py::gil_scoped_release release;
              return conversion(model, r, o);
          },
          py::arg("model"), py::arg("entity"), py::arg("time"), py::arg("stage"), py::arg("segment") = py::none(),
          py::arg("skipped") = "implied", py::arg("threads") = 1u);
}

}  // namespace
}  // namespace funnelkit::python

void funnelkit::python::register_conversion(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;

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

    // Two overloads: int8 stage and segment codes (both, or no segment) go to the compact
    // columns as they are; any other integer codes are read as int32 (converted when needed).
    // pybind11 tries exact dtypes first, so int8 arrays reach the second one.
    def_conversion<std::int32_t, stage_records>(m);
    def_conversion<std::int8_t, compact_stage_records>(m);
}
