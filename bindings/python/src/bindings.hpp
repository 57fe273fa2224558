// Shared helpers of the Python bindings: binder declarations, numpy <-> span conversion.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "funnelkit/error.hpp"

namespace funnelkit::python {

namespace py = pybind11;

/// One binder per concept: bind_X.cpp defines register_X, module.cpp calls them in this order
/// (types that other binders refer to, such as the stage model and the mergeable counts, first).
void register_model(py::module_& m);
void register_conversion(py::module_& m);
void register_sample(py::module_& m);
void register_accumulators(py::module_& m);
void register_rates(py::module_& m);
void register_survival(py::module_& m);
void register_window_funnel(py::module_& m);
void register_funnel_analysis(py::module_& m);
void register_lifecycle(py::module_& m);
void register_campaign(py::module_& m);
void register_attribution(py::module_& m);
void register_markov(py::module_& m);
void register_suppression(py::module_& m);
void register_audit(py::module_& m);
void register_velocity(py::module_& m);
void register_planning(py::module_& m);
void register_sla(py::module_& m);
void register_drivers(py::module_& m);
void register_forecast(py::module_& m);
void register_labels(py::module_& m);

template <class T>
using array = py::array_t<T, py::array::c_style>;

/// A read-only span over a 1-d contiguous numpy array; names the column in errors.
template <class T>
std::span<const T> column(const array<T>& a, const char* name) {
    if (a.ndim() != 1)
        throw funnelkit::invalid_argument("column '" + std::string(name) + "' must be one-dimensional, got " +
                                          std::to_string(a.ndim()) + " dimensions");
    return {a.data(), static_cast<std::size_t>(a.shape(0))};
}

/// Same, for an optional column passed as None.
template <class T>
std::span<const T> optional_column(const std::optional<array<T>>& a, const char* name) {
    return a ? column(*a, name) : std::span<const T>{};
}

/// Hands a vector's memory to numpy without copying.
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
    auto* owner = new std::vector<T>(std::move(v));
    py::capsule free_when_done(owner, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>({static_cast<py::ssize_t>(owner->size())}, {static_cast<py::ssize_t>(sizeof(T))},
                          owner->data(), free_when_done);
}

/// Bytes of a serialised state as a Python bytes object, and back.
inline py::bytes to_bytes(const std::vector<std::byte>& blob) {
    return py::bytes(reinterpret_cast<const char*>(blob.data()), blob.size());
}
inline std::string_view bytes_view(const py::bytes& b) {
    char* data = nullptr;
    py::ssize_t size = 0;
    if (PYBIND11_BYTES_AS_STRING_AND_SIZE(b.ptr(), &data, &size) != 0) throw py::error_already_set();
    return {data, static_cast<std::size_t>(size)};
}

/// The state contract of a mergeable core state, bound the same way for every state (merge,
/// `+=`, `==`, reset, serialize / deserialize, pickle): `bind_state(py::class_<S>(m, "Name"))`.
/// The bytes are the core's own versioned format, so Python pickles, C++ and every other
/// binding read the same blobs.
template <class S, class... Options>
py::class_<S, Options...>& bind_state(py::class_<S, Options...>& cls) {
    const auto from_blob = [](const py::bytes& b) {
        const auto v = bytes_view(b);
        return S::deserialize(v.data(), v.size());
    };
    const auto to_blob = [](const S& s) { return to_bytes(s.serialize()); };
    cls.def("merge", [](S& a, const S& b) { a.merge(b); }, py::arg("other"),
            "Adds a state computed on other entities into this one (in place).")
        .def("__iadd__", [](S& a, const S& b) -> S& { a.merge(b); return a; }, py::is_operator())
        .def("__eq__", [](const S& a, const S& b) { return a == b; }, py::is_operator())
        .def("reset", &S::reset, "Empties the state.")
        .def("serialize", to_blob, "The state in funnelkit's versioned binary format.")
        .def_static("deserialize", from_blob, py::arg("data"), "Reads a state from serialize()'s bytes.")
        .def(py::pickle(to_blob, from_blob));
    cls.attr("__hash__") = py::none();
    return cls;
}
template <class S, class... Options>
py::class_<S, Options...>& bind_state(py::class_<S, Options...>&& cls) {
    return bind_state(cls);
}

}  // namespace funnelkit::python
