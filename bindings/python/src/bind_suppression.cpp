// Bindings of the suppression list. Ids are matched by value: integer ids live in the core's id
// table, and every other id (strings, UUIDs) in a reserved key kind, escaped so that the core's
// key normalisation (trim, ASCII lower-case) leaves it unchanged, so "Alice" and "alice" stay
// distinct and a text id never depends on the batch it came in. funnelkit.suppression builds the
// public API.
#include <pybind11/stl.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/model.hpp"
#include "funnelkit/serialize.hpp"
#include "funnelkit/suppression.hpp"

namespace funnelkit::python {
namespace {

/// The key kind that holds text ids. Users cannot add or check keys of this kind.
constexpr std::string_view text_id_kind = "(text id)";

key_transform parse_transform(const std::string& t) {
    if (t == "normalise" || t == "normalize") return key_transform::normalise;
    if (t == "email_domain") return key_transform::email_domain;
    detail::throw_option("transform", t, "is not a key transform (expected 'normalise' or 'email_domain')");
}

void check_kind(std::string_view kind) {
    if (kind == text_id_kind)
        detail::throw_option("kind", std::string(kind), "is reserved for text ids; choose another key kind");
}

bool is_space(unsigned char c) noexcept { return c == ' ' || (c >= '\t' && c <= '\r'); }

/// A text id as a key the core's normalisation leaves unchanged: upper-case ASCII letters,
/// whitespace and '%' become "%xx" (two lower-case hex digits); other bytes stay.
void append_escaped(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c >= 'A' && c <= 'Z') || is_space(c) || c == '%') {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += ch;
        }
    }
}

std::string unescape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    auto digit = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            out += static_cast<char>(digit(s[i + 1]) * 16 + digit(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string escaped(std::string_view s) {
    std::string out;
    append_escaped(out, s);
    return out;
}

/// Strings read from a 1-d numpy object array, owned, in Arrow's layout.
struct owned_strings {
    std::string data;
    std::vector<std::int64_t> offsets{0};
    string_column view() const {
        return {{data.data(), data.size()}, {offsets.data(), offsets.size()}};
    }
};

bool is_missing(PyObject* o) {
    if (o == Py_None) return true;
    if (PyFloat_Check(o) && std::isnan(PyFloat_AsDouble(o))) return true;
    return std::strcmp(Py_TYPE(o)->tp_name, "NAType") == 0 || std::strcmp(Py_TYPE(o)->tp_name, "NaTType") == 0;
}

/// Reads a column of text. `escape`: as text ids; `missing_ok`: missing values (None, NaN,
/// pandas NA) become empty strings, which never match; otherwise they are errors.
owned_strings read_strings(const py::array& a, const char* column, bool escape, bool missing_ok) {
    if (a.ndim() != 1)
        throw invalid_argument("column '" + std::string(column) + "' must be one-dimensional, got " +
                               std::to_string(a.ndim()) + " dimensions");
    if (a.dtype().kind() != 'O')
        throw invalid_argument("column '" + std::string(column) + "': expected text (an object array of strings)");
    owned_strings out;
    const auto n = static_cast<std::size_t>(a.shape(0));
    out.offsets.reserve(n + 1);
    const auto* base = static_cast<const char*>(a.data());
    const auto stride = a.strides(0);
    for (std::size_t i = 0; i < n; ++i) {
        PyObject* o = *reinterpret_cast<PyObject* const*>(base + static_cast<py::ssize_t>(i) * stride);
        if (PyUnicode_Check(o)) {
            Py_ssize_t len = 0;
            const char* p = PyUnicode_AsUTF8AndSize(o, &len);
            if (p == nullptr) throw py::error_already_set();
            const std::string_view s(p, static_cast<std::size_t>(len));
            if (escape && s.empty() && !missing_ok) detail::throw_at_row(column, i, "\"\"", "is an empty id");
            if (escape) append_escaped(out.data, s);
            else out.data.append(s);
        } else if (is_missing(o)) {
            if (!missing_ok) detail::throw_at_row(column, i, "missing", "is not allowed; every row needs a value");
        } else {
            const std::string shown = py::repr(py::handle(o)).cast<std::string>();
            detail::throw_at_row(column, i, shown, "is not text (ids are integers or strings, keys are strings)");
        }
        out.offsets.push_back(static_cast<std::int64_t>(out.data.size()));
    }
    return out;
}

/// The list's contents from its canonical bytes: one entry per id or key.
struct entry_columns {
    std::vector<std::string> kind;
    std::vector<std::optional<std::int64_t>> id;
    std::vector<std::optional<std::string>> key;
    std::vector<std::string> reasons;
};

template <class Visit>
void walk(const suppression_list& s, Visit&& visit) {
    const auto blob = s.serialize();
    detail::byte_reader r(blob.data(), blob.size(), "FKSP", "suppression_list");
    std::vector<std::string> names(static_cast<std::size_t>(r.get<std::uint64_t>()));
    for (auto& n : names) n = r.get_string();
    auto describe = [&](std::uint64_t m) {
        std::string out;
        for (; m; m &= m - 1) {
            if (!out.empty()) out += "; ";
            out += names[static_cast<std::size_t>(std::countr_zero(m))];
        }
        return out;
    };
    const auto n_ids = r.get<std::uint64_t>();
    for (std::uint64_t i = 0; i < n_ids; ++i) {
        const auto id = r.get<std::int64_t>();
        const auto mask = r.get<std::uint64_t>();
        visit(std::string_view{}, std::optional<std::int64_t>(id), std::string_view{}, describe(mask));
    }
    const auto n_kinds = r.get<std::uint64_t>();
    for (std::uint64_t k = 0; k < n_kinds; ++k) {
        const std::string kind = r.get_string();
        const auto n_keys = r.get<std::uint64_t>();
        for (std::uint64_t i = 0; i < n_keys; ++i) {
            const std::string key = r.get_string();
            visit(std::string_view(kind), std::optional<std::int64_t>{}, std::string_view(key),
                  describe(r.get<std::uint64_t>()));
        }
    }
}

std::size_t text_ids(const suppression_list& s) {
    std::size_t n = 0;
    walk(s, [&](std::string_view kind, auto, auto, auto) { n += kind == text_id_kind ? 1 : 0; });
    return n;
}

entry_columns entries(const suppression_list& s) {
    entry_columns e;
    walk(s, [&](std::string_view kind, std::optional<std::int64_t> id, std::string_view key, std::string reasons) {
        if (id) {
            e.kind.emplace_back("id");
            e.id.push_back(id);
            e.key.emplace_back();
        } else if (kind == text_id_kind) {
            e.kind.emplace_back("id");
            e.id.emplace_back();
            e.key.emplace_back(unescape(key));
        } else {
            e.kind.emplace_back(kind);
            e.id.emplace_back();
            e.key.emplace_back(std::string(key));
        }
        e.reasons.push_back(std::move(reasons));
    });
    return e;
}

std::string renamed(std::string message, std::string_view from, std::string_view to) {
    const std::string a = "column '" + std::string(from) + "'", b = "column '" + std::string(to) + "'";
    for (std::size_t p = message.find(a); p != std::string::npos; p = message.find(a, p + b.size()))
        message.replace(p, a.size(), b);
    return message;
}

/// Adds text ids (escaped) to the reserved key kind, with errors naming the id column.
void add_text_ids(suppression_list& s, const owned_strings& ids, std::span<const std::int32_t> codes,
                  std::span<const std::string> names) {
    try {
        s.add_keys({text_id_kind, ids.view(), key_transform::normalise}, codes, names);
    } catch (const invalid_argument& e) {
        throw invalid_argument(renamed(e.what(), "key", "id"));
    }
}

}  // namespace
}  // namespace funnelkit::python

void funnelkit::python::register_suppression(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    m.attr("TEXT_ID_KIND") = std::string(text_id_kind);

    m.def("normalise_key", [](const std::string& key, const std::string& transform) {
        return normalise_key(key, parse_transform(transform));
    }, py::arg("key"), py::arg("transform") = "normalise");

    py::class_<suppression_list> list(m, "SuppressionList");
    bind_state(list);
    list.def(py::init<>())
        .def("add_ids",
             [](suppression_list& s, const array<std::int64_t>& ids, const array<std::int32_t>& codes,
                const std::vector<std::string>& names) {
                 s.add_ids(column(ids, "id"), column(codes, "reason"), names);
             },
             py::arg("ids"), py::arg("reason_codes"), py::arg("reason_names"))
        .def("add_text_ids",
             [](suppression_list& s, const py::array& ids, const array<std::int32_t>& codes,
                const std::vector<std::string>& names) {
                 add_text_ids(s, read_strings(ids, "id", true, false), column(codes, "reason"), names);
             },
             py::arg("ids"), py::arg("reason_codes"), py::arg("reason_names"))
        .def("add_keys",
             [](suppression_list& s, const std::string& kind, const py::array& keys, const std::string& transform,
                const array<std::int32_t>& codes, const std::vector<std::string>& names) {
                 check_kind(kind);
                 const auto values = read_strings(keys, "key", false, false);
                 s.add_keys({kind, values.view(), parse_transform(transform)}, column(codes, "reason"), names);
             },
             py::arg("kind"), py::arg("keys"), py::arg("transform"), py::arg("reason_codes"), py::arg("reason_names"))
        .def("add_disqualified",
             [](suppression_list& s, const stage_model& model, const std::optional<array<std::int64_t>>& entity,
                const std::optional<py::array>& text_entity, const array<std::int32_t>& stage,
                const std::optional<array<std::int32_t>>& reason, const std::vector<std::string>& names) {
                 const auto stages = column(stage, "stage");
                 const auto reasons = optional_column(reason, "reason");
                 if (entity) {
                     const auto ids = column(*entity, "entity");
                     const std::vector<std::int64_t> time(ids.size(), 0);
                     s.add_disqualified(model, {ids, time, stages}, reasons, names);
                     return;
                 }
                 if (!text_entity) throw invalid_argument("option 'entity': an entity column is required");
                 // Text ids: the core picks the disqualified rows (and checks every column) on
                 // row numbers; each picked row's id is then added with its reasons.
                 const auto ids = read_strings(*text_entity, "entity", true, false);
                 const std::size_t n = ids.offsets.size() - 1;
                 std::vector<std::int64_t> rows(n), time(n, 0);
                 for (std::size_t i = 0; i < n; ++i) rows[i] = static_cast<std::int64_t>(i);
                 suppression_list picked;
                 picked.add_disqualified(model, {rows, time, stages}, reasons, names);
                 const auto view = ids.view();
                 for (std::size_t i = 0; i < n; ++i) {
                     std::uint64_t mask = picked.id_reasons(static_cast<std::int64_t>(i));
                     for (; mask; mask &= mask - 1) {
                         const auto bit = static_cast<std::size_t>(std::countr_zero(mask));
                         s.add_key(text_id_kind, view[i], picked.reasons()[bit]);
                     }
                 }
             },
             py::arg("model"), py::arg("entity"), py::arg("text_entity"), py::arg("stage"), py::arg("reason"),
             py::arg("reason_names"))
        .def("check",
             [](const suppression_list& s, const std::optional<array<std::int64_t>>& ids,
                const std::optional<py::array>& text_ids,
                const std::vector<std::tuple<std::string, py::array, std::string>>& keys) {
                 std::vector<owned_strings> values;
                 values.reserve(keys.size() + 1);
                 std::vector<key_column> cols;
                 if (text_ids) {
                     values.push_back(read_strings(*text_ids, "id", true, true));
                     cols.push_back({text_id_kind, values.back().view(), key_transform::normalise});
                 }
                 for (const auto& [kind, column_values, tf] : keys) {
                     check_kind(kind);
                     values.push_back(read_strings(column_values, "key", false, true));
                     cols.push_back({kind, values.back().view(), parse_transform(tf)});
                 }
                 const auto idv = optional_column(ids, "id");
                 suppression_check r;
                 {
                     py::gil_scoped_release release;
                     r = s.check(idv, cols);
                 }
                 if (text_ids)  // the text ids were key column 0 (bit 1): report them as the id (bit 0)
                     for (auto& b : r.matched_by) b = ((b >> 1) & 1u) | ((b >> 2) << 1);
                 py::dict d;
                 d["suppressed"] = to_numpy(std::move(r.suppressed));
                 d["reasons"] = to_numpy(std::move(r.reasons));
                 d["matched_by"] = to_numpy(std::move(r.matched_by));
                 d["count"] = r.count;
                 return d;
             },
             py::arg("ids"), py::arg("text_ids"), py::arg("keys"))
        .def_property_readonly("reasons", &suppression_list::reasons)
        .def_property_readonly("n_ids", [](const suppression_list& s) { return s.n_ids() + text_ids(s); })
        .def_property_readonly("n_keys", [](const suppression_list& s) { return s.n_keys() - text_ids(s); })
        .def_property_readonly("kinds", [](const suppression_list& s) {
            std::vector<std::string> out;
            for (auto& k : s.kinds())
                if (k != text_id_kind) out.push_back(std::move(k));
            return out;
        })
        .def("describe", &suppression_list::describe, py::arg("mask"))
        .def("id_reasons", &suppression_list::id_reasons, py::arg("id"))
        .def("text_id_reasons", [](const suppression_list& s, const std::string& id) {
            return id.empty() ? std::uint64_t{0} : s.key_reasons(text_id_kind, escaped(id));
        }, py::arg("id"))
        .def("key_reasons",
             [](const suppression_list& s, const std::string& kind, const std::string& key, const std::string& tf) {
                 check_kind(kind);
                 return s.key_reasons(kind, key, parse_transform(tf));
             },
             py::arg("kind"), py::arg("key"), py::arg("transform") = "normalise")
        .def("entries", [](const suppression_list& s) {
            auto e = entries(s);
            py::dict d;
            d["kind"] = std::move(e.kind);
            d["id"] = std::move(e.id);
            d["key"] = std::move(e.key);
            d["reasons"] = std::move(e.reasons);
            return d;
        })
        .def("copy", [](const suppression_list& s) { return suppression_list(s); });
}
