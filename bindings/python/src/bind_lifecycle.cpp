// Bindings of stage histories and what they compute: reach, cohorts, flow, durations, aging,
// and the mergeable lifecycle summary.
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include <limits>
#include <optional>

#include "bindings.hpp"
#include "funnelkit/lifecycle.hpp"

namespace funnelkit::python {
namespace {

reach_options make_reach_options(const std::string& skipped, const std::string& passes) {
    reach_options o;
    if (skipped == "implied") o.skipped = skipped_stages::implied;
    else if (skipped == "recorded") o.skipped = skipped_stages::not_implied;
    else throw invalid_argument("option 'skipped': value '" + skipped + "' is not one of 'implied', 'recorded'");
    if (passes == "first") o.passes = recycled_passes::first_only;
    else if (passes == "every") o.passes = recycled_passes::every_pass;
    else throw invalid_argument("option 'passes': value '" + passes + "' is not one of 'first', 'every'");
    return o;
}

period_kind parse_period(const std::string& p) {
    if (p == "day") return period_kind::day;
    if (p == "week") return period_kind::week;
    if (p == "month") return period_kind::month;
    if (p == "quarter") return period_kind::quarter;
    if (p == "year") return period_kind::year;
    throw invalid_argument("option 'period': value '" + p + "' is not one of 'day', 'week', 'month', 'quarter', 'year'");
}

template <class T>
py::array_t<T> matrix(std::vector<T>&& v, std::size_t rows, std::size_t cols) {
    auto a = to_numpy(std::move(v));
    return a.reshape({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)});
}

template <class S>
py::bytes blob_of(const S& s) { return to_bytes(s.serialize()); }
template <class S>
S from_blob(const py::bytes& b) {
    const auto v = bytes_view(b);
    return S::deserialize(v.data(), v.size());
}

}  // namespace
}  // namespace funnelkit::python

FUNNELKIT_PYTHON_BINDING(lifecycle, 5) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    py::class_<flow_counts>(m, "FlowCounts")
        .def(py::init<>())
        .def_property_readonly("n_codes", &flow_counts::n_codes)
        .def_property_readonly("n_ranks", &flow_counts::n_ranks)
        .def_property_readonly("n_segments", &flow_counts::n_segments)
        .def_property_readonly("n_reasons", &flow_counts::n_reasons)
        .def("transitions", [](const flow_counts& f) {
            std::vector<std::int64_t> v(f.n_codes() * f.n_codes());
            for (std::size_t i = 0; i < f.n_codes(); ++i)
                for (std::size_t j = 0; j < f.n_codes(); ++j)
                    v[i * f.n_codes() + j] = f.transitions(static_cast<std::int32_t>(i), static_cast<std::int32_t>(j));
            return matrix(std::move(v), f.n_codes(), f.n_codes());
        })
        .def("exits", [](const flow_counts& f) {
            // (segment + 1, rank, outcome): row 0 is overall.
            std::vector<std::int64_t> v;
            for (std::int32_t g = -1; g < static_cast<std::int32_t>(f.n_segments()); ++g)
                for (std::size_t r = 0; r < f.n_ranks(); ++r)
                    for (std::size_t o = 0; o < 4; ++o) v.push_back(f.exits(r, static_cast<flow_counts::outcome>(o), g));
            auto a = to_numpy(std::move(v));
            return a.reshape({static_cast<py::ssize_t>(f.n_segments() + 1), static_cast<py::ssize_t>(f.n_ranks()),
                              py::ssize_t{4}});
        })
        .def("reasons", [](const flow_counts& f) {
            std::vector<std::int64_t> v;
            for (std::int32_t g = -1; g < static_cast<std::int32_t>(f.n_segments()); ++g)
                for (std::size_t r = 0; r < f.n_ranks(); ++r)
                    for (std::size_t why = 0; why < f.n_reasons(); ++why)
                        v.push_back(f.reasons(r, static_cast<std::int32_t>(why), g));
            auto a = to_numpy(std::move(v));
            return a.reshape({static_cast<py::ssize_t>(f.n_segments() + 1), static_cast<py::ssize_t>(f.n_ranks()),
                              static_cast<py::ssize_t>(f.n_reasons())});
        })
        .def("merge", [](flow_counts& a, const flow_counts& b) { a.merge(b); }, py::arg("other"))
        .def("reset", &flow_counts::reset)
        .def(py::self == py::self)
        .def("serialize", &blob_of<flow_counts>)
        .def_static("deserialize", &from_blob<flow_counts>, py::arg("data"))
        .def(py::pickle(&blob_of<flow_counts>, &from_blob<flow_counts>));

    py::class_<lifecycle_summary>(m, "LifecycleSummary")
        .def(py::init<>())
        .def_property_readonly("n_stages", &lifecycle_summary::n_stages)
        .def_property_readonly("n_segments", &lifecycle_summary::n_segments)
        .def_property_readonly("conversion", [](const lifecycle_summary& s) { return s.conversion(); })
        .def_property_readonly("flow", [](const lifecycle_summary& s) { return s.flow(); })
        .def("time_in_stage", [](const lifecycle_summary& s, std::size_t rank, std::int32_t segment) {
            return s.time_in_stage(rank, segment); }, py::arg("rank"), py::arg("segment") = -1)
        .def("merge", [](lifecycle_summary& a, const lifecycle_summary& b) { a.merge(b); }, py::arg("other"))
        .def("reset", &lifecycle_summary::reset)
        .def(py::self == py::self)
        .def("serialize", &blob_of<lifecycle_summary>)
        .def_static("deserialize", &from_blob<lifecycle_summary>, py::arg("data"))
        .def(py::pickle(&blob_of<lifecycle_summary>, &from_blob<lifecycle_summary>));

    py::class_<stage_histories>(m, "Histories")
        .def_property_readonly("size", &stage_histories::size)
        .def_property_readonly("n_stages", &stage_histories::n_stages)
        .def_property_readonly("n_segments", &stage_histories::n_segments)
        .def_property_readonly("n_reasons", &stage_histories::n_reasons)
        .def_property_readonly("as_of", &stage_histories::as_of)
        .def("summary", [](const stage_histories& h) {
            const std::size_t n = h.size();
            std::vector<std::int64_t> entity(h.entities().begin(), h.entities().end()), since(n);
            std::vector<std::int32_t> segment(h.segments().begin(), h.segments().end()), current(n), exit_rank(n),
                recycles(n), reason(n);
            std::vector<std::uint64_t> recorded(n), skipped(n);
            for (std::size_t i = 0; i < n; ++i) {
                current[i] = h.current(i);
                since[i] = h.current_since(i);
                exit_rank[i] = h.exit_rank(i);
                recycles[i] = h.recycles(i);
                recorded[i] = h.recorded(i);
                skipped[i] = h.skipped(i);
                reason[i] = h.last_reason(i);
            }
            py::dict d;
            d["entity"] = to_numpy(std::move(entity));
            d["segment"] = to_numpy(std::move(segment));
            d["current"] = to_numpy(std::move(current));
            d["current_since"] = to_numpy(std::move(since));
            d["exit_rank"] = to_numpy(std::move(exit_rank));
            d["recycles"] = to_numpy(std::move(recycles));
            d["recorded"] = to_numpy(std::move(recorded));
            d["skipped"] = to_numpy(std::move(skipped));
            d["reason"] = to_numpy(std::move(reason));
            return d;
        })
        .def("entry_times", [](const stage_histories& h, bool implied) {
            const std::size_t n = h.size(), k = h.n_stages();
            std::vector<std::int64_t> v(n * k);
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t r = 0; r < k; ++r) v[i * k + r] = implied ? h.reach_time(i, r) : h.first_entry(i, r);
            return matrix(std::move(v), n, k);
        }, py::arg("implied"))
        .def("reach", [](const stage_histories& h, const std::optional<array<std::int32_t>>& group,
                         const std::string& skipped, const std::string& passes) {
            const auto g = optional_column(group, "group");
            const auto o = make_reach_options(skipped, passes);
            py::gil_scoped_release release;
            return reach(h, g, o);
        }, py::arg("group") = py::none(), py::arg("skipped") = "implied", py::arg("passes") = "first")
        .def("cohorts", [](const stage_histories& h, std::size_t stage, const std::string& period,
                           std::int64_t ticks_per_second, std::int64_t utc_offset_seconds) {
            auto c = assign_cohorts(h, {.stage = stage, .period = parse_period(period),
                                        .ticks_per_second = ticks_per_second,
                                        .utc_offset_seconds = utc_offset_seconds});
            py::dict d;
            d["code"] = to_numpy(std::move(c.code));
            d["start"] = to_numpy(std::move(c.start));
            d["end"] = to_numpy(std::move(c.end));
            return d;
        }, py::arg("stage"), py::arg("period"), py::arg("ticks_per_second"), py::arg("utc_offset_seconds"))
        .def("flow", [](const stage_histories& h) { return compute_flow(h); })
        .def("summarize", [](const stage_histories& h, const std::string& skipped, const std::string& passes) {
            const auto o = make_reach_options(skipped, passes);
            py::gil_scoped_release release;
            return summarize(h, o);
        }, py::arg("skipped") = "implied", py::arg("passes") = "first")
        .def("time_in_stage", [](const stage_histories& h) {
            auto v = time_in_stage(h);
            py::dict d;
            d["entity"] = to_numpy(std::move(v.entity));
            d["stage"] = to_numpy(std::move(v.stage));
            d["entered"] = to_numpy(std::move(v.entered));
            d["duration"] = to_numpy(std::move(v.duration));
            d["completed"] = to_numpy(std::move(v.completed));
            return d;
        })
        .def("time_to_convert", [](const stage_histories& h, std::size_t from, std::size_t to) {
            auto v = time_to_convert(h, from, to);
            py::dict d;
            d["entity"] = to_numpy(std::move(v.entity));
            d["duration"] = to_numpy(std::move(v.duration));
            d["outcome"] = to_numpy(std::move(v.outcome));
            return d;
        }, py::arg("from_rank"), py::arg("to_rank"))
        .def("stuck", [](const stage_histories& h, const std::vector<std::int64_t>& limit, double percentile) {
            auto a = stuck_entities(h, {.limit = limit, .percentile = percentile});
            py::dict d;
            d["entity"] = to_numpy(std::move(a.entity));
            d["stage"] = to_numpy(std::move(a.stage));
            d["entered"] = to_numpy(std::move(a.entered));
            d["age"] = to_numpy(std::move(a.age));
            d["limit"] = to_numpy(std::move(a.limit));
            return d;
        }, py::arg("limit"), py::arg("percentile"));

    m.def("build_histories",
          [](const stage_model& model, const array<std::int64_t>& entity, const array<std::int64_t>& time,
             const array<std::int32_t>& stage, const std::optional<array<std::int32_t>>& segment,
             const std::optional<array<std::int32_t>>& reason, std::optional<std::int64_t> as_of) {
              stage_records r{column(entity, "entity"), column(time, "time"), column(stage, "stage"),
                              optional_column(segment, "segment"), {}, optional_column(reason, "reason")};
              py::gil_scoped_release release;
              return build_histories(model, r, {.as_of = as_of});
          },
          py::arg("model"), py::arg("entity"), py::arg("time"), py::arg("stage"), py::arg("segment") = py::none(),
          py::arg("reason") = py::none(), py::arg("as_of") = py::none());
}
