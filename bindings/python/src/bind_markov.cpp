// Bindings of the absorbing Markov chain: N, B and t as 2-d numpy arrays; funnelkit.markov labels
// them with the state names.
#include <pybind11/stl.h>

#include <vector>

#include "bindings.hpp"
#include "funnelkit/markov.hpp"

namespace funnelkit::python {
namespace {

using matrix = py::array_t<double, py::array::c_style | py::array::forcecast>;

py::array_t<double> reshaped(const std::vector<double>& v, std::size_t rows, std::size_t cols) {
    py::array_t<double> out({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)});
    std::copy(v.begin(), v.end(), out.mutable_data());
    return out;
}

}  // namespace
}  // namespace funnelkit::python

void funnelkit::python::register_markov(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    py::class_<absorbing_chain_solution>(m, "AbsorbingChainSolution")
        .def_readonly("n_transient", &absorbing_chain_solution::n_transient)
        .def_readonly("n_absorbing", &absorbing_chain_solution::n_absorbing)
        .def_property_readonly("absorption", [](const absorbing_chain_solution& s) {
            return reshaped(s.absorption, s.n_transient, s.n_absorbing);
        })
        .def_property_readonly("fundamental", [](const absorbing_chain_solution& s) {
            return reshaped(s.fundamental, s.n_transient, s.n_transient);
        })
        .def_property_readonly("expected_steps", [](const absorbing_chain_solution& s) {
            return to_numpy(std::vector<double>(s.expected_steps));
        });

    m.def("solve_absorbing_chain",
          [](const matrix& q, const matrix& r) {
              if (q.ndim() != 2 || q.shape(0) != q.shape(1))
                  throw invalid_argument("option 'q': expected a square matrix of transient-to-transient "
                                         "probabilities");
              if (r.ndim() != 2 || r.shape(0) != q.shape(0))
                  throw invalid_argument("option 'r': expected one row of transient-to-absorbing probabilities per "
                                         "row of q");
              const auto nt = static_cast<std::size_t>(q.shape(0)), na = static_cast<std::size_t>(r.shape(1));
              return solve_absorbing_chain(nt, na, {q.data(), nt * nt}, {r.data(), nt * na});
          },
          py::arg("q"), py::arg("r"));
}
