// Bindings of stage histories and what they compute: reach, cohorts, flow, durations, aging,
// and the mergeable lifecycle summary.
#include <pybind11/stl.h>

#include <array>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/lifecycle.hpp"
#include "funnelkit/period.hpp"

namespace funnelkit::python {
namespace {

template <class T>
py::array_t<T> matrix(std::vector<T>&& v, std::size_t rows, std::size_t cols) {
    auto a = to_numpy(std::move(v));
    return a.reshape({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)});
}

// The tables of the lifecycle report as dicts of numpy columns (moved, not copied), each column
// under the name of its member.
template <class T, class... M>
py::dict columns_of(T& t, const std::array<const char*, sizeof...(M)>& names, std::vector<M> T::*... members) {
    py::dict d;
    std::size_t i = 0;
    ((d[names[i++]] = to_numpy(std::move(t.*members))), ...);
    return d;
}

py::dict columns(time_in_stage_table&& t) {
    using T = time_in_stage_table;
    return columns_of(t, {"segment", "rank", "visits", "completed", "open", "mean", "median", "p90", "min", "max",
                          "km_median", "km_median_lower", "km_median_upper"},
                      &T::segment, &T::rank, &T::visits, &T::completed, &T::open, &T::mean, &T::median, &T::p90,
                      &T::min, &T::max, &T::km_median, &T::km_median_lower, &T::km_median_upper);
}

py::dict columns(time_to_convert_table&& t) {
    using T = time_to_convert_table;
    return columns_of(t, {"segment", "entered", "converted", "closed_otherwise", "open", "mean", "median", "p90", "min",
                          "max", "km_median", "km_median_lower", "km_median_upper", "p_convert", "p_closed_otherwise"},
                      &T::segment, &T::entered, &T::converted, &T::closed_otherwise, &T::open, &T::mean, &T::median,
                      &T::p90, &T::min, &T::max, &T::km_median, &T::km_median_lower, &T::km_median_upper,
                      &T::p_convert, &T::p_closed_otherwise);
}

py::dict columns(exit_table&& t) {
    using T = exit_table;
    return columns_of(t, {"segment", "rank", "open", "won", "lost", "disqualified", "total", "open_share", "won_share",
                          "lost_share", "disqualified_share"},
                      &T::segment, &T::rank, &T::open, &T::won, &T::lost, &T::disqualified, &T::total, &T::open_share,
                      &T::won_share, &T::lost_share, &T::disqualified_share);
}

py::dict columns(reason_table&& t) {
    using T = reason_table;
    return columns_of(t, {"segment", "rank", "reason", "count", "share"}, &T::segment, &T::rank, &T::reason, &T::count,
                      &T::share);
}

py::dict columns(summary_table&& t) {
    using T = summary_table;
    return columns_of(t, {"segment", "rank", "entities", "reached", "step_rate", "cumulative_rate", "completed", "mean",
                          "median", "p90", "min", "max"},
                      &T::segment, &T::rank, &T::entities, &T::reached, &T::step_rate, &T::cumulative_rate,
                      &T::completed, &T::mean, &T::median, &T::p90, &T::min, &T::max);
}

py::dict columns(reach_table&& t) {
    using T = reach_table;
    return columns_of(t, {"segment", "rank", "entities", "reached", "step_rate", "cumulative_rate", "step_lower",
                          "step_upper", "cum_lower", "cum_upper"},
                      &T::segment, &T::rank, &T::entities, &T::reached, &T::step_rate, &T::cumulative_rate,
                      &T::step_lower, &T::step_upper, &T::cum_lower, &T::cum_upper);
}

}  // namespace
}  // namespace funnelkit::python

void funnelkit::python::register_lifecycle(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    py::class_<flow_counts> flow(m, "FlowCounts");
    bind_state(flow);
    flow.def(py::init<>())
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
        });

    py::class_<lifecycle_summary> summary(m, "LifecycleSummary");
    bind_state(summary);
    summary.def(py::init<>())
        .def_property_readonly("n_stages", &lifecycle_summary::n_stages)
        .def_property_readonly("n_segments", &lifecycle_summary::n_segments)
        .def_property_readonly("ticks_per_second", &lifecycle_summary::ticks_per_second)
        .def_property_readonly("conversion", [](const lifecycle_summary& s) { return s.conversion(); })
        .def_property_readonly("flow", [](const lifecycle_summary& s) { return s.flow(); })
        .def("time_in_stage", [](const lifecycle_summary& s, std::size_t rank, std::int32_t segment) {
            return s.time_in_stage(rank, segment); }, py::arg("rank"), py::arg("segment") = -1);

    // Options are bound as classes with keyword arguments; the functions take one options object.
    py::class_<history_options>(m, "HistoryOptions")
        .def(py::init([](std::optional<std::int64_t> as_of, std::int64_t ticks_per_second, unsigned threads) {
                 return history_options{.as_of = as_of, .ticks_per_second = ticks_per_second, .threads = threads};
             }),
             py::kw_only(), py::arg("as_of") = py::none(), py::arg("ticks_per_second") = 1, py::arg("threads") = 1u)
        .def_readwrite("as_of", &history_options::as_of)
        .def_readwrite("ticks_per_second", &history_options::ticks_per_second)
        .def_readwrite("threads", &history_options::threads);

    // Option words are read and written by the core's parse_*/to_string routines.
    py::class_<reach_options>(m, "ReachOptions")
        .def(py::init([](std::string_view skipped, std::string_view passes) {
                 return reach_options{.skipped = parse_skipped_stages(skipped), .passes = parse_recycled_passes(passes)};
             }),
             py::kw_only(), py::arg("skipped") = "implied", py::arg("passes") = "first")
        .def_property_readonly("skipped", [](const reach_options& o) { return std::string(to_string(o.skipped)); })
        .def_property_readonly("passes", [](const reach_options& o) { return std::string(to_string(o.passes)); });

    py::class_<cohort_options>(m, "CohortOptions")
        .def(py::init([](std::size_t stage, std::string_view period, std::int64_t ticks_per_second,
                         std::int64_t utc_offset_seconds, std::optional<std::int64_t> maturity) {
                 return cohort_options{.stage = stage, .period = parse_period_kind(period),
                                       .ticks_per_second = ticks_per_second,
                                       .utc_offset_seconds = utc_offset_seconds, .maturity = maturity};
             }),
             py::kw_only(), py::arg("stage") = 0, py::arg("period") = "month", py::arg("ticks_per_second") = 1,
             py::arg("utc_offset_seconds") = 0, py::arg("maturity") = py::none())
        .def_readwrite("stage", &cohort_options::stage)
        .def_property_readonly("period", [](const cohort_options& o) { return std::string(to_string(o.period)); })
        .def_readwrite("ticks_per_second", &cohort_options::ticks_per_second)
        .def_readwrite("utc_offset_seconds", &cohort_options::utc_offset_seconds)
        .def_readwrite("maturity", &cohort_options::maturity);

    py::class_<lifecycle_table_options>(m, "LifecycleTableOptions")
        .def(py::init([](bool by_segment, std::size_t n_segments, double confidence) {
                 return lifecycle_table_options{.by_segment = by_segment, .n_segments = n_segments,
                                                .confidence = confidence};
             }),
             py::kw_only(), py::arg("by_segment") = false, py::arg("n_segments") = 0, py::arg("confidence") = 0.95)
        .def_readwrite("by_segment", &lifecycle_table_options::by_segment)
        .def_readwrite("n_segments", &lifecycle_table_options::n_segments)
        .def_readwrite("confidence", &lifecycle_table_options::confidence);

    py::class_<reach_table_options>(m, "ReachTableOptions")
        .def(py::init([](bool overall, bool groups, double confidence, std::string_view interval) {
                 return reach_table_options{.overall = overall, .groups = groups, .confidence = confidence,
                                            .interval = parse_interval_method(interval)};
             }),
             py::kw_only(), py::arg("overall") = true, py::arg("groups") = true, py::arg("confidence") = 0.95,
             py::arg("interval") = "wilson")
        .def_readwrite("overall", &reach_table_options::overall)
        .def_readwrite("groups", &reach_table_options::groups)
        .def_readwrite("confidence", &reach_table_options::confidence)
        .def_property_readonly("interval", [](const reach_table_options& o) { return std::string(to_string(o.interval)); });

    m.def("tabulate_reach", [](const conversion_counts& c, const reach_table_options& o) {
        return columns(tabulate_reach(c, o)); }, py::arg("counts"), py::arg_v("options", reach_table_options{}, "ReachTableOptions()"));
    m.def("tabulate_exits", [](const flow_counts& f, const stage_model& model, const lifecycle_table_options& o) {
        return columns(tabulate_exits(f, model, o)); }, py::arg("flow"), py::arg("model"),
        py::arg_v("options", lifecycle_table_options{}, "LifecycleTableOptions()"));
    m.def("tabulate_summary", [](const lifecycle_summary& s, const lifecycle_table_options& o) {
        return columns(tabulate_summary(s, o)); }, py::arg("summary"),
        py::arg_v("options", lifecycle_table_options{}, "LifecycleTableOptions()"));
    m.def("tabulate_reasons", [](const flow_counts& f, const lifecycle_table_options& o) {
        return columns(tabulate_reasons(f, o)); }, py::arg("flow"),
        py::arg_v("options", lifecycle_table_options{}, "LifecycleTableOptions()"));
    m.def("mature_cohorts", [](const array<std::int64_t>& end, std::int64_t maturity, std::int64_t as_of) {
        return to_numpy(mature_cohorts(column(end, "end"), maturity, as_of)); },
        py::arg("end"), py::arg("maturity"), py::arg("as_of"));

    py::class_<aging_options>(m, "AgingOptions")
        .def(py::init([](std::vector<std::int64_t> limit, double percentile) {
                 return aging_options{.limit = std::move(limit), .percentile = percentile};
             }),
             py::kw_only(), py::arg("limit") = std::vector<std::int64_t>{}, py::arg("percentile") = 90.0)
        .def_readwrite("limit", &aging_options::limit)
        .def_readwrite("percentile", &aging_options::percentile);

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
                         const reach_options& options) {
            const auto g = optional_column(group, "group");
            py::gil_scoped_release release;
            return reach(h, g, options);
        }, py::arg("group") = py::none(), py::arg_v("options", reach_options{}, "ReachOptions()"))
        .def("cohorts", [](const stage_histories& h, const cohort_options& options) {
            auto c = assign_cohorts(h, options);
            py::dict d;
            d["code"] = to_numpy(std::move(c.code));
            d["start"] = to_numpy(std::move(c.start));
            d["end"] = to_numpy(std::move(c.end));
            d["mature"] = to_numpy(std::move(c.mature));
            return d;
        }, py::arg("options"))
        .def("flow", [](const stage_histories& h) { return compute_flow(h); })
        .def("summarize", [](const stage_histories& h, const reach_options& options) {
            py::gil_scoped_release release;
            return summarize(h, options);
        }, py::arg_v("options", reach_options{}, "ReachOptions()"))
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
        .def("stuck", [](const stage_histories& h, const aging_options& options) {
            auto a = stuck_entities(h, options);
            py::dict d;
            d["entity"] = to_numpy(std::move(a.entity));
            d["stage"] = to_numpy(std::move(a.stage));
            d["entered"] = to_numpy(std::move(a.entered));
            d["age"] = to_numpy(std::move(a.age));
            d["limit"] = to_numpy(std::move(a.limit));
            d["over"] = to_numpy(std::move(a.over));
            return d;
        }, py::arg("options"))
        .def("tabulate_time_in_stage", [](const stage_histories& h, const lifecycle_table_options& o) {
            time_in_stage_table t;
            {
                py::gil_scoped_release release;
                t = tabulate_time_in_stage(h, o);
            }
            return columns(std::move(t));
        }, py::arg_v("options", lifecycle_table_options{}, "LifecycleTableOptions()"))
        .def("tabulate_time_to_convert", [](const stage_histories& h, std::size_t from, std::size_t to,
                                            const lifecycle_table_options& o) {
            time_to_convert_table t;
            {
                py::gil_scoped_release release;
                t = tabulate_time_to_convert(h, from, to, o);
            }
            return columns(std::move(t));
        }, py::arg("from_rank"), py::arg("to_rank"), py::arg_v("options", lifecycle_table_options{}, "LifecycleTableOptions()"));

    m.def("build_histories",
          [](const stage_model& model, const array<std::int64_t>& entity, const array<std::int64_t>& time,
             const array<std::int32_t>& stage, const std::optional<array<std::int32_t>>& segment,
             const std::optional<array<std::int32_t>>& reason, const history_options& options) {
              stage_records r{column(entity, "entity"), column(time, "time"), column(stage, "stage"),
                              optional_column(segment, "segment"), {}, optional_column(reason, "reason")};
              py::gil_scoped_release release;
              return build_histories(model, r, options);
          },
          py::arg("model"), py::arg("entity"), py::arg("time"), py::arg("stage"), py::arg("segment") = py::none(),
          py::arg("reason") = py::none(), py::arg_v("options", history_options{}, "HistoryOptions()"));
}
