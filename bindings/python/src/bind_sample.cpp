// Bindings of the synthetic sample (funnelkit/synthetic.hpp): CRM stage histories and marketing
// touches, as numpy arrays of codes.
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "funnelkit/synthetic.hpp"

void funnelkit::python::register_sample(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;

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
