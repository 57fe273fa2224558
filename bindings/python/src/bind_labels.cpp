// Ingestion helpers of the Python layer for columns of labels (strings, categories): a column
// of Python strings to dense codes, and the counting and remapping of label codes. Each is one
// pass in C++ over the column, so that no Python code runs per element.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/detail/exact_sum.hpp"

namespace funnelkit::python {
namespace {

/// Codes of a one-dimensional object array of str, in order of first appearance (None and
/// float NaN: -1), the distinct strings (the first object holding each) and the rows per code
/// (code_counts' layout: one count per string, then the missing rows). None when the array
/// holds anything else, so that the caller's general path handles (and reports) it.
py::object encode_strings(const py::array& values) {
    if (values.ndim() != 1 || values.dtype().kind() != 'O') return py::none();
    const auto n = static_cast<std::size_t>(values.shape(0));
    const py::ssize_t stride = values.strides(0);
    const char* base = static_cast<const char*>(values.data());
    py::array_t<std::int32_t> result(static_cast<py::ssize_t>(n));  // written once, not zeroed first
    std::int32_t* codes = result.mutable_data();
    std::vector<std::int64_t> counts(1, 0);  // counts[0]: missing, counts[1 + j]: code j
    std::vector<PyObject*> firsts;
    // Views into each string's own UTF-8 (kept alive by the array, which holds the strings).
    std::unordered_map<std::string_view, std::int32_t> by_text;
    // The same label is usually the same object row after row: a direct-mapped cache from the
    // object's address to its code answers those without reading the text.
    constexpr std::size_t cache_size = 4096;
    std::vector<PyObject*> cache_key(cache_size, nullptr);
    std::vector<std::int32_t> cache_code(cache_size, 0);
    for (std::size_t i = 0; i < n; ++i) {
        PyObject* o = *reinterpret_cast<PyObject* const*>(base + static_cast<py::ssize_t>(i) * stride);
        const std::size_t slot = (reinterpret_cast<std::uintptr_t>(o) >> 4) & (cache_size - 1);
        if (cache_key[slot] == o) {
            codes[i] = cache_code[slot];
            continue;
        }
        std::int32_t code;
        if (PyUnicode_Check(o)) {
            Py_ssize_t len = 0;
            const char* text = PyUnicode_AsUTF8AndSize(o, &len);
            if (text == nullptr) {  // lone surrogates: not encodable, left to the general path
                PyErr_Clear();
                return py::none();
            }
            const auto [it, fresh] =
                by_text.try_emplace(std::string_view(text, static_cast<std::size_t>(len)), static_cast<std::int32_t>(firsts.size()));
            if (fresh) {
                if (firsts.size() == static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
                    throw funnelkit::invalid_argument("more than 2^31 - 1 distinct labels in one column");
                firsts.push_back(o);
                counts.push_back(0);
            }
            code = it->second;
        } else if (o == Py_None || (PyFloat_Check(o) && std::isnan(PyFloat_AS_DOUBLE(o)))) {
            code = -1;
        } else {
            return py::none();
        }
        cache_key[slot] = o;
        cache_code[slot] = code;
        codes[i] = code;
    }
    py::list uniques(firsts.size());
    for (std::size_t j = 0; j < firsts.size(); ++j)
        uniques[j] = py::reinterpret_borrow<py::object>(firsts[j]);
    for (std::size_t i = 0; i < n; ++i) ++counts[static_cast<std::size_t>(codes[i] + 1)];
    std::vector<std::int64_t> per_code(counts.begin() + 1, counts.end());
    per_code.push_back(counts[0]);
    return py::make_tuple(result, uniques, to_numpy(std::move(per_code)));
}

/// Calls f(const T*, n) on a one-dimensional contiguous array of signed integer codes.
template <class F>
auto with_codes(const py::array& codes, F&& f) {
    if (codes.ndim() != 1 || codes.dtype().kind() != 'i' ||
        (codes.shape(0) > 1 && codes.strides(0) != codes.dtype().itemsize()))
        throw funnelkit::invalid_argument("label codes must be a one-dimensional contiguous array of signed integers");
    // Codes are read as native integers: a byte-swapped array would read as other values.
    const char order = codes.dtype().byteorder();
    if ((order == '<' && std::endian::native != std::endian::little) || (order == '>' && std::endian::native != std::endian::big))
        throw funnelkit::invalid_argument("label codes must be in the machine's byte order");
    const auto n = static_cast<std::size_t>(codes.shape(0));
    switch (codes.dtype().itemsize()) {
        case 1: return f(static_cast<const std::int8_t*>(codes.data()), n);
        case 2: return f(static_cast<const std::int16_t*>(codes.data()), n);
        case 4: return f(static_cast<const std::int32_t*>(codes.data()), n);
        case 8: return f(static_cast<const std::int64_t*>(codes.data()), n);
        default: throw funnelkit::invalid_argument("label codes of an unsupported width");
    }
}

[[noreturn]] void bad_code(std::size_t row, std::int64_t value, std::int64_t offset, std::size_t categories) {
    const std::string range = "-1.." + std::to_string(static_cast<long long>(categories) - 1);
    if (offset == 0)
        throw funnelkit::invalid_argument("label code " + std::to_string(value) + " at row " + std::to_string(row) +
                                          " is outside " + range);
    throw funnelkit::invalid_argument("label value " + std::to_string(value) + " at row " + std::to_string(row) +
                                      " minus offset " + std::to_string(offset) + " is outside " + range);
}

/// A row's code: its value minus `offset`, in 128 bits so that no difference wraps (a wrapped
/// difference could land in -1..categories-1 and count a far value as a code).
template <class T>
[[gnu::always_inline]] inline std::int64_t code_of(T value, std::int64_t offset, std::size_t row, std::size_t categories) {
    const auto v = static_cast<funnelkit::detail::int128>(value) - offset;
    if (v < -1 || v >= static_cast<funnelkit::detail::int128>(categories)) [[unlikely]]
        bad_code(row, static_cast<std::int64_t>(value), offset, categories);
    return static_cast<std::int64_t>(v);
}

/// How many rows hold each of `categories` codes, and (last) how many are missing (-1). A row's
/// code is its value minus `offset`.
py::array_t<std::int64_t> code_counts(const py::array& codes, std::size_t categories, std::int64_t offset) {
    std::vector<std::int64_t> counts(categories + 1, 0);  // counts[0]: -1, counts[1 + j]: code j
    with_codes(codes, [&](const auto* c, std::size_t n) {
        std::int64_t* k = counts.data() + 1;
        for (std::size_t i = 0; i < n; ++i) {
            ++k[code_of(c[i], offset, i, categories)];
        }
    });
    std::vector<std::int64_t> out(counts.begin() + 1, counts.end());
    out.push_back(counts[0]);
    return to_numpy(std::move(out));
}

/// mapping[code] for every row as int32, mapping[categories] for a missing value (-1), where
/// mapping holds categories + 1 entries and a row's code is its value minus `offset`.
/// With in_place, `codes` (int32, writeable) is overwritten and returned.
// mapping[code] per row, as int32 or, with `narrow`, as int8 (every mapped value must fit).
py::array remap_codes(const py::array& codes, const array<std::int32_t>& mapping, std::int64_t offset, bool in_place,
                      bool narrow) {
    const auto map = column(mapping, "mapping");
    if (map.empty()) throw funnelkit::invalid_argument("the mapping of label codes is empty");
    const std::size_t categories = map.size() - 1;
    if (in_place && (narrow || codes.dtype().kind() != 'i' || codes.dtype().itemsize() != 4 || !codes.writeable()))
        throw funnelkit::invalid_argument("remapping in place needs writeable int32 codes and int32 output");
    if (narrow)
        for (const std::int32_t v : map)
            if (v < INT8_MIN || v > INT8_MAX)
                throw funnelkit::invalid_argument("mapped code " + std::to_string(v) + " does not fit in int8");
    return with_codes(codes, [&](const auto* c, std::size_t n) {
        const auto fill = [&](auto* out) {
            const std::int32_t* m = map.data();
            for (std::size_t i = 0; i < n; ++i) {
                const std::int64_t v = code_of(c[i], offset, i, categories);
                out[i] = static_cast<std::remove_pointer_t<decltype(out)>>(m[v < 0 ? categories : static_cast<std::size_t>(v)]);
            }
        };
        if (narrow) {
            py::array_t<std::int8_t> result(static_cast<py::ssize_t>(n));  // not zeroed first
            fill(result.mutable_data());
            return py::array(result);
        }
        py::array result = in_place ? codes : py::array_t<std::int32_t>(static_cast<py::ssize_t>(n));
        fill(static_cast<std::int32_t*>(result.mutable_data()));
        return result;
    });
}

}  // namespace

void register_labels(py::module_& m) {
    m.def("encode_strings", &encode_strings, py::arg("values"),
          "(codes int32, distinct strings, rows per code then missing rows) of an object array of str "
          "(None/NaN: -1), in order of first appearance; None when it holds other objects.");
    m.def("code_counts", &code_counts, py::arg("codes"), py::arg("categories"), py::arg("offset") = 0,
          "Rows per label code 0..categories-1, then the rows with -1 (missing); code = value - offset.");
    m.def("remap_codes", &remap_codes, py::arg("codes"), py::arg("mapping"), py::arg("offset") = 0,
          py::arg("in_place") = false, py::arg("narrow") = false,
          "mapping[code] per row (int32, or int8 with narrow); mapping[-1] (its last entry) for code -1; "
          "code = value - offset. in_place overwrites the (int32) codes.");
}

}  // namespace funnelkit::python
