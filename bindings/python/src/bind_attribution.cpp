// Bindings of attribution: the prepared path set, the options of every model as a class with
// keyword arguments, and the per-channel result. funnelkit.attribution builds the public API.
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/attribution.hpp"
#include "funnelkit/markov.hpp"

namespace funnelkit::python {
namespace {

shapley_game parse_game(const std::string& game) {
    if (game == "covered_value") return shapley_game::covered_value;
    if (game == "value_rate") return shapley_game::value_rate;
    detail::throw_option("shapley_game", game, "is not 'covered_value' or 'value_rate'");
}

std::string game_name(shapley_game g) { return g == shapley_game::covered_value ? "covered_value" : "value_rate"; }

std::vector<double> copy_of(const std::vector<double>& v) { return v; }

}  // namespace
}  // namespace funnelkit::python

void funnelkit::python::register_attribution(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    py::class_<path_set>(m, "PathSet")
        .def(py::init([](const array<std::int64_t>& path, const array<std::int64_t>& time,
                         const array<std::int32_t>& channel, const std::optional<array<std::uint8_t>>& milestone,
                         const array<std::int64_t>& outcome_path, const array<std::uint8_t>& converted,
                         const std::optional<array<double>>& value,
                         const std::optional<array<std::int64_t>>& conversion_time, std::int32_t n_channels,
                         unsigned threads) {
                 const touch_columns t{column(path, "path"), column(time, "time"), column(channel, "channel"),
                                       optional_column(milestone, "milestone")};
                 const outcome_columns o{column(outcome_path, "outcome path"), column(converted, "converted"),
                                         optional_column(value, "value"),
                                         optional_column(conversion_time, "conversion_time")};
                 py::gil_scoped_release release;
                 return path_set(t, o, n_channels, threads);
             }),
             py::kw_only(), py::arg("path"), py::arg("time"), py::arg("channel"), py::arg("milestone") = py::none(),
             py::arg("outcome_path"), py::arg("converted"), py::arg("value") = py::none(),
             py::arg("conversion_time") = py::none(), py::arg("n_channels") = 0, py::arg("threads") = 1u)
        .def_property_readonly("n_paths", &path_set::n_paths)
        .def_property_readonly("n_channels", &path_set::n_channels);

    py::class_<attribution_options>(m, "AttributionOptions")
        .def(py::init([](const std::string& model, const std::vector<double>& u, const std::vector<double>& w,
                         double half_life, std::vector<double> head, std::vector<double> tail, double middle,
                         int markov_order, const std::string& game, int exact_max, std::int64_t samples,
                         std::uint64_t seed, const std::string& markov_weight) {
                 attribution_options op;
                 op.model = parse_attribution_model(model);
                 if (u.size() != 3)
                     detail::throw_option("u_weights", std::to_string(u.size()) + " values", "must hold 3 weights");
                 if (w.size() != 4)
                     detail::throw_option("w_weights", std::to_string(w.size()) + " values", "must hold 4 weights");
                 op.u_first = u[0], op.u_middle = u[1], op.u_last = u[2];
                 op.w_first = w[0], op.w_lead = w[1], op.w_opportunity = w[2], op.w_rest = w[3];
                 op.half_life = half_life;
                 op.head = std::move(head);
                 op.tail = std::move(tail);
                 op.middle = middle;
                 op.markov_order = markov_order;
                 op.markov_weighting = parse_markov_weight(markov_weight);
                 op.game = parse_game(game);
                 op.shapley_exact_max = exact_max;
                 op.shapley_samples = samples;
                 op.seed = seed;
                 return op;
             }),
             py::kw_only(), py::arg("model") = "linear", py::arg("u_weights") = std::vector<double>{0.4, 0.2, 0.4},
             py::arg("w_weights") = std::vector<double>{0.3, 0.3, 0.3, 0.1}, py::arg("half_life") = 7.0 * 86'400.0,
             py::arg("head") = std::vector<double>{}, py::arg("tail") = std::vector<double>{},
             py::arg("middle") = 0.0, py::arg("markov_order") = 1, py::arg("shapley_game") = "covered_value",
             py::arg("shapley_exact_max") = 15, py::arg("shapley_samples") = 2000, py::arg("seed") = 1,
             py::arg("markov_weight") = "conversions")
        .def_property_readonly("model", [](const attribution_options& o) { return std::string(to_string(o.model)); })
        .def_readonly("half_life", &attribution_options::half_life)
        .def_readonly("markov_order", &attribution_options::markov_order)
        .def_property_readonly("markov_weight",
                               [](const attribution_options& o) { return std::string(to_string(o.markov_weighting)); })
        .def_property_readonly("shapley_game", [](const attribution_options& o) { return game_name(o.game); })
        .def_readonly("shapley_exact_max", &attribution_options::shapley_exact_max)
        .def_readonly("shapley_samples", &attribution_options::shapley_samples)
        .def_readonly("seed", &attribution_options::seed);

    py::class_<attribution_result>(m, "Attribution")
        .def_property_readonly("model", [](const attribution_result& r) { return std::string(to_string(r.model)); })
        .def_property_readonly("conversions",
                               [](const attribution_result& r) { return to_numpy(copy_of(r.conversions)); })
        .def_property_readonly("value", [](const attribution_result& r) { return to_numpy(copy_of(r.value)); })
        .def_property_readonly("score", [](const attribution_result& r) { return to_numpy(copy_of(r.score)); })
        .def_readonly("total_conversions", &attribution_result::total_conversions)
        .def_readonly("total_value", &attribution_result::total_value)
        .def_readonly("unattributed_conversions", &attribution_result::unattributed_conversions)
        .def_readonly("unattributed_value", &attribution_result::unattributed_value)
        .def_readonly("paths", &attribution_result::paths)
        .def_readonly("converting_paths", &attribution_result::converting_paths)
        .def_readonly("base", &attribution_result::base)
        .def_readonly("exact", &attribution_result::exact);

    m.def("attribute",
          [](const path_set& paths, const attribution_options& options) {
              py::gil_scoped_release release;
              return attribute(paths, options);
          },
          py::arg("paths"), py::arg("options"));

    bind_state(py::class_<attribution_state>(m, "AttributionState",
                                             "Mergeable state of attribute(): exact credit sums per channel (rule-based "
                                             "models) or the distinct paths with their counts (markov, shapley)."))
        .def(py::init<>())
        .def_property_readonly("n_channels", &attribution_state::n_channels)
        .def_property_readonly("paths", &attribution_state::paths)
        .def_property_readonly("converting_paths", &attribution_state::converting_paths)
        .def_property_readonly("total_value", &attribution_state::total_value)
        .def_property_readonly("distinct_paths", [](const attribution_state& s) { return s.table().size(); });
    m.def("attribution_sums",
          [](const path_set& paths, const attribution_options& options) {
              py::gil_scoped_release release;
              return attribution_sums(paths, options);
          },
          py::arg("paths"), py::arg("options"));
    m.def("attribute_state",
          [](const attribution_state& state) {
              py::gil_scoped_release release;
              return attribute(state);
          },
          py::arg("state"), "The attribution of a (merged) AttributionState with its options.");
}
