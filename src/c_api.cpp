// The C ABI of include/funnelkit/c/funnelkit.h over the C++ core. Every entry point runs its
// body through guarded(), which turns every exception into a status and a message, so that no
// exception crosses into C (or into a database server that longjmps).
#include "funnelkit/c/funnelkit.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <system_error>
#include <type_traits>
#include <cctype>
#include <cmath>
#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "funnelkit/config.hpp"
#include "funnelkit/conversion.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/planning.hpp"
#include "funnelkit/rates.hpp"
#include "funnelkit/serialize.hpp"
#include "funnelkit/velocity.hpp"
#include "funnelkit/window_funnel.hpp"

namespace fk = funnelkit;

namespace {

thread_local std::string last_error;

// Every handle carries its last error message and a buffer for its serialized bytes.
// The message is mutable: a failed query on a handle the caller holds const still records it.
struct handle_base {
    mutable std::string error;
    std::vector<std::byte> bytes;
};

template <class F>
fk_status guarded(const handle_base* h, F&& body) noexcept {
    std::string message;
    fk_status status = FK_INTERNAL;
    try {
        body();
        return FK_OK;
    } catch (const fk::invalid_argument& e) {
        status = FK_INVALID_ARGUMENT;
        try { message = e.what(); } catch (...) {}
    } catch (const std::invalid_argument& e) {
        status = FK_INVALID_ARGUMENT;
        try { message = e.what(); } catch (...) {}
    } catch (const std::bad_alloc&) {
        status = FK_OUT_OF_MEMORY;
        try { message = "out of memory"; } catch (...) {}
    } catch (const std::exception& e) {
        try { message = std::string("internal error: ") + e.what(); } catch (...) {}
    } catch (...) {
        try { message = "internal error: unknown exception"; } catch (...) {}
    }
    try {
        last_error = message;
        if (h != nullptr) h->error = message;
    } catch (...) {
    }
    return status;
}

fk_status null_pointer(const handle_base* h, const char* what) noexcept {
    return guarded(h, [&] { throw fk::invalid_argument(std::string("argument '") + what + "' is a null pointer"); }) ==
                   FK_INVALID_ARGUMENT
               ? FK_NULL_POINTER
               : FK_INTERNAL;
}

#define FK_REQUIRE(h, p)                                    \
    do {                                                    \
        if ((p) == nullptr) return null_pointer((h), #p);   \
    } while (0)

// A query of a handle: checks the handle and the pointer the answer goes to (named `what` in the
// message), then runs `body` guarded, a failure recorded in the handle.
template <class H, class Out, class F>
fk_status query(const H* h, Out* out, const char* what, F&& body) noexcept {
    if (h == nullptr) return null_pointer(nullptr, "h");
    if (out == nullptr) return null_pointer(h, what);
    return guarded(h, std::forward<F>(body));
}

[[noreturn]] void bad_option(std::string_view option, std::string_view value, std::string_view problem) {
    fk::detail::throw_option(option, value, problem);
}

std::string trim(std::string_view s) {
    std::size_t a = 0, b = s.size();
    while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
    while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
    return std::string(s.substr(a, b - a));
}

std::vector<std::string> split_commas(std::string_view text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = text.find(',', start);
        const std::size_t end = comma == std::string_view::npos ? text.size() : comma;
        std::string part = trim(text.substr(start, end - start));
        if (!part.empty()) out.push_back(std::move(part));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return out;
}

std::uint32_t parse_modes(const char* text) {
    std::uint32_t flags = 0;
    if (text == nullptr) return 0;
    for (const std::string& word : split_commas(text)) {
        std::string w = word;
        for (char& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (w == "strict_deduplication") flags |= FK_STRICT_DEDUPLICATION;
        else if (w == "strict_order") flags |= FK_STRICT_ORDER;
        else if (w == "strict_increase" || w == "strict") flags |= FK_STRICT_INCREASE;
        else if (w == "allow_reentry") flags |= FK_ALLOW_REENTRY;
        else if (w == "exact_increase") flags |= FK_EXACT_INCREASE;
        else if (w == "strict_once") flags |= FK_STRICT_ONCE;
        else
            bad_option("mode", word,
                       "is not a mode (strict_deduplication, strict_order, strict_increase, allow_reentry, "
                       "exact_increase, strict_once)");
    }
    return flags;
}

void check_modes(std::uint32_t m) {
    if (m >= 64) bad_option("mode", std::to_string(m), "has unknown bits");
    if ((m & FK_STRICT_ONCE) && m != FK_STRICT_ONCE) bad_option("mode", "strict_once", "does not combine with other modes");
    if ((m & FK_ALLOW_REENTRY) && !(m & FK_STRICT_ORDER))
        bad_option("mode", "allow_reentry", "requires strict_order");
    if ((m & FK_EXACT_INCREASE) &&
        (!(m & FK_STRICT_INCREASE) || (m & FK_STRICT_DEDUPLICATION) || (m & FK_STRICT_ORDER)))
        bad_option("mode", "exact_increase", "requires strict_increase alone");
}

void check_definition(std::int64_t window, std::uint32_t steps, std::uint32_t modes) {
    if (window < 0) bad_option("window", std::to_string(window), "must be >= 0");
    if (steps < 1 || steps > 64)
        bad_option("conditions", std::to_string(steps), "must be 1 to 64 funnel steps");
    check_modes(modes);
}

fk::window_funnel_options funnel_options(std::int64_t window, std::uint32_t steps, std::uint32_t modes) {
    fk::window_funnel_options o;
    o.window = window;
    o.steps = steps;
    o.strict_deduplication = (modes & FK_STRICT_DEDUPLICATION) != 0;
    o.strict_order = (modes & FK_STRICT_ORDER) != 0;
    o.strict_increase = (modes & FK_STRICT_INCREASE) != 0;
    o.allow_reentry = (modes & FK_ALLOW_REENTRY) != 0;
    o.exact_increase = (modes & FK_EXACT_INCREASE) != 0;
    o.strict_once = (modes & FK_STRICT_ONCE) != 0;
    return o;
}

// The level of one entity whose events are given (entity column all zero).
std::uint32_t single_level(std::span<const std::int64_t> time, std::span<const std::uint64_t> mask,
                           std::int64_t window, std::uint32_t steps, std::uint32_t modes) {
    if (time.empty()) return 0;
    const std::vector<std::int64_t> zero(time.size(), 0);
    fk::event_columns ev{zero, time, {}, mask};
    const auto r = fk::window_funnel(ev, funnel_options(window, steps, modes));
    for (std::size_t level = 0; level <= steps; ++level)
        if (r.counts.at_level(level) > 0) return static_cast<std::uint32_t>(level);
    return 0;
}

// A new empty handle.
template <class T>
fk_status create(T** out) noexcept {
    return guarded(nullptr, [&] { *out = new T(); });
}

// Serializes a handle's state into its byte buffer (valid until the next call on it).
template <class H, class Write>
fk_status serialize_into(H* h, const void** data, std::size_t* size, Write write) noexcept {
    FK_REQUIRE(nullptr, h);
    FK_REQUIRE(h, data);
    FK_REQUIRE(h, size);
    return guarded(h, [&] {
        h->bytes = write(*h);
        *data = h->bytes.data();
        *size = h->bytes.size();
    });
}

// A new handle read from bytes, or a status with the reader's message.
template <class H, class Read>
fk_status deserialize_new(const void* data, std::size_t size, H** out, Read read) noexcept {
    FK_REQUIRE(nullptr, out);
    return guarded(nullptr, [&] {
        auto* h = new H();
        try {
            read(data, size, *h);
        } catch (...) {
            delete h;
            throw;
        }
        *out = h;
    });
}

}  // namespace

// ---- handle types ---------------------------------------------------------------------------

struct fk_events : handle_base {
    bool defined = false;
    std::int64_t window = 0;
    std::uint32_t steps = 0;
    std::uint32_t modes = 0;
    bool has_entity = false;
    std::vector<std::int64_t> entity, time;
    std::vector<std::uint64_t> mask;

    // Events matching no step change a level only under strict_order (where they end the
    // search); elsewhere they are dropped at once.
    bool keeps_empty() const noexcept { return !defined || (modes & FK_STRICT_ORDER) != 0; }
    void check_mask(std::uint64_t m, std::size_t row) const {
        if (defined && steps < 64 && (m >> steps) != 0)
            fk::detail::throw_at_row("conditions", row, std::to_string(m),
                                     "matches a step beyond the " + std::to_string(steps) + " steps");
    }
    void reserve_one() {
        if (time.size() == time.capacity()) {
            const std::size_t cap = std::max<std::size_t>(16, time.size() * 2);
            time.reserve(cap);
            mask.reserve(cap);
            if (has_entity) entity.reserve(cap);
        }
    }
};

struct fk_funnel_counts : handle_base {
    fk::window_funnel_counts counts;
};

struct fk_conversion : handle_base {
    fk::conversion_counts counts;
};

struct fk_deals : handle_base {
    bool defined = false;
    std::int64_t start = 0, end = 0;
    double unit = 0;
    std::string options;
    std::vector<std::int64_t> created, closed;
    std::vector<std::int8_t> outcome;
    std::vector<double> amount;
    // The optional cycle starts (cycle_from=sql, first_touch): empty while no row gave them,
    // else one value per row, FK_MISSING_TIME where a row has none.
    bool has_starts = false;
    std::vector<std::int64_t> sql_time, first_touch;
    std::string reason, basis;
};

struct fk_plan : handle_base {
    fk::reverse_funnel_plan plan;
};

namespace {

// Columns of the row buffers travel as nested blobs of little-endian values (a uint64 byte count,
// then the values), written and read with one copy instead of a call per byte.
template <class T>
using same_size_unsigned = std::conditional_t<sizeof(T) == 8, std::uint64_t,
                           std::conditional_t<sizeof(T) == 4, std::uint32_t,
                           std::conditional_t<sizeof(T) == 2, std::uint16_t, std::uint8_t>>>;

template <class T>
void put_array(fk::detail::byte_writer& w, const std::vector<T>& v) {
    std::vector<std::byte> raw(v.size() * sizeof(T));
    if constexpr (std::endian::native == std::endian::little) {
        if (!v.empty()) std::memcpy(raw.data(), v.data(), raw.size());
    } else {
        for (std::size_t i = 0; i < v.size(); ++i) {
            same_size_unsigned<T> u;
            std::memcpy(&u, &v[i], sizeof(T));
            for (std::size_t b = 0; b < sizeof(T); ++b) raw[i * sizeof(T) + b] = static_cast<std::byte>((u >> (8 * b)) & 0xffu);
        }
    }
    w.put_blob(raw);
}

template <class T>
std::vector<T> get_array(fk::detail::byte_reader& r, const char* column) {
    const auto [data, size] = r.get_blob();
    if (size % sizeof(T) != 0) r.fail(std::string("column ") + column + " is not a whole number of values");
    std::vector<T> v(size / sizeof(T));
    const auto* p = static_cast<const unsigned char*>(data);
    if constexpr (std::endian::native == std::endian::little) {
        if (size) std::memcpy(v.data(), p, size);
    } else {
        for (std::size_t i = 0; i < v.size(); ++i) {
            same_size_unsigned<T> u = 0;
            for (std::size_t b = 0; b < sizeof(T); ++b)
                u |= static_cast<same_size_unsigned<T>>(static_cast<same_size_unsigned<T>>(p[i * sizeof(T) + b]) << (8 * b));
            std::memcpy(&v[i], &u, sizeof(T));
        }
    }
    return v;
}

constexpr char events_magic[] = "FKEV";
constexpr char deals_magic[] = "FKDL";
constexpr std::uint16_t events_format = 2;  // the frame's first checksummed version
// Deal buffers: version 2 holds (created, closed, outcome, amount); version 3 adds a flag and,
// when set, the sql_time and first_touch columns. Both are read; version 3 is written.
constexpr std::uint16_t deals_first_format = 2;
constexpr std::uint16_t deals_format = 3;

std::vector<std::byte> write_events(const fk_events& h) {
    fk::detail::byte_writer w(events_magic, events_format);
    w.put(static_cast<std::uint8_t>(h.defined ? 1 : 0));
    w.put(h.window);
    w.put(h.steps);
    w.put(h.modes);
    w.put(static_cast<std::uint8_t>(h.has_entity ? 1 : 0));
    if (h.has_entity) put_array(w, h.entity);
    put_array(w, h.time);
    put_array(w, h.mask);
    return std::move(w).finish();
}

void read_events(const void* data, std::size_t size, fk_events& h) {
    fk::detail::byte_reader r(data, size, events_magic, "fk_events");
    r.accept_versions(events_format, events_format);
    const auto defined = r.get<std::uint8_t>();
    h.window = r.get<std::int64_t>();
    h.steps = r.get<std::uint32_t>();
    h.modes = r.get<std::uint32_t>();
    const auto has_entity = r.get<std::uint8_t>();
    if (defined > 1 || has_entity > 1) r.fail("a flag byte is not 0 or 1");
    h.defined = defined == 1;
    h.has_entity = has_entity == 1;
    if (h.has_entity) h.entity = get_array<std::int64_t>(r, "entity");
    h.time = get_array<std::int64_t>(r, "time");
    h.mask = get_array<std::uint64_t>(r, "mask");
    r.finish();
    if (h.has_entity && h.entity.size() != h.time.size()) r.fail("entity and time columns differ in length");
    if (h.mask.size() != h.time.size()) r.fail("mask and time columns differ in length");
    if (h.defined) {
        try {
            check_definition(h.window, h.steps, h.modes);
        } catch (const fk::invalid_argument& e) {
            r.fail(e.what());
        }
        for (std::size_t i = 0; i < h.mask.size(); ++i) {
            if (h.steps < 64 && (h.mask[i] >> h.steps) != 0) r.fail("event " + std::to_string(i) + " has a mask beyond the steps");
            if (h.mask[i] == 0 && !h.keeps_empty()) r.fail("event " + std::to_string(i) + " matches no step");
        }
    } else if (h.window != 0 || h.steps != 0 || h.modes != 0) {
        r.fail("an undefined buffer records a window, steps or modes");
    }
}

std::vector<std::byte> write_deals(const fk_deals& h) {
    fk::detail::byte_writer w(deals_magic, deals_format);
    w.put(static_cast<std::uint8_t>(h.defined ? 1 : 0));
    w.put(h.start);
    w.put(h.end);
    w.put(h.unit);
    w.put(std::string_view(h.options));
    put_array(w, h.created);
    put_array(w, h.closed);
    put_array(w, h.outcome);
    put_array(w, h.amount);
    w.put(static_cast<std::uint8_t>(h.has_starts ? 1 : 0));
    if (h.has_starts) {
        put_array(w, h.sql_time);
        put_array(w, h.first_touch);
    }
    return std::move(w).finish();
}

fk::opportunity_records deal_records(const fk_deals& h) {
    fk::opportunity_records r{h.created, h.closed, h.outcome, h.amount};
    if (h.has_starts) {
        r.sql_time = h.sql_time;
        r.first_touch = h.first_touch;
    }
    return r;
}

// Gives a buffer the cycle-start columns, every earlier row without either start.
void add_start_columns(fk_deals& h) {
    if (h.has_starts) return;
    h.sql_time.assign(h.created.size(), FK_MISSING_TIME);
    h.first_touch.assign(h.created.size(), FK_MISSING_TIME);
    h.has_starts = true;
}

// The whole of `text` as a number of type T (a decimal integer, or a double), or an error naming
// the option.
template <class T>
T number_option(std::string_view option, const std::string& text) {
    T v{};
    const char* first = text.data();
    const char* last = first + text.size();
    const auto [ptr, ec] = std::from_chars(first, last, v);
    if (text.empty() || ec != std::errc() || ptr != last) {
        if constexpr (std::is_floating_point_v<T>) bad_option(option, text, "is not a number");
        else bad_option(option, text, "is not a whole number in range");
    }
    return v;
}

// The key=value pairs of an options string, in order (a pair without '=' has an empty value).
std::vector<std::pair<std::string, std::string>> option_pairs(std::string_view text) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const std::string& pair : split_commas(text)) {
        const std::size_t eq = pair.find('=');
        out.emplace_back(trim(std::string_view(pair).substr(0, eq == std::string::npos ? pair.size() : eq)),
                         eq == std::string::npos ? "" : trim(std::string_view(pair).substr(eq + 1)));
    }
    return out;
}

// Checks a velocity definition and gives its options.
fk::velocity_options velocity_options(std::int64_t start, std::int64_t end, double unit, const char* options) {
    fk::velocity_options o;
    if (!(std::isfinite(unit) && unit > 0)) bad_option("unit", fk::detail::to_text(unit), "must be finite and > 0");
    o.time_unit = unit;
    o.unit_name = fk::detail::to_display(unit) + " ticks";
    std::vector<std::string> seen;
    for (const auto& [key, value] : option_pairs(options ? options : "")) {
        if (std::find(seen.begin(), seen.end(), key) != seen.end())
            bad_option(key, value, "is given twice in the options '" + std::string(options) + "'");
        seen.push_back(key);
        if (key == "count") {
            o.count = fk::parse_count_basis(value);
            // The deprecated word names the vendor figure, as in Python: one basis, one name.
            if (o.count == fk::count_basis::created_in_period) o.count = fk::count_basis::vendor;
        } else if (key == "win_rate") {
            o.win_rate = fk::parse_win_rate_basis(value);
        } else if (key == "cycle_from") {
            o.cycle_from = fk::parse_cycle_start(value);
        } else if (key == "cycle_over") {
            o.cycle_over = fk::parse_cycle_deals(value);
        } else if (key == "cycle_stat") {
            o.cycle_stat = fk::parse_cycle_statistic(value);
        } else if (key == "bootstrap") {
            o.bootstrap = number_option<std::int32_t>("bootstrap", value);
            if (o.bootstrap < 0) bad_option("bootstrap", value, "must be >= 0");
        } else if (key == "confidence") {
            o.confidence = number_option<double>("confidence", value);
            if (!(o.confidence > 0 && o.confidence < 1)) bad_option("confidence", value, "must be in (0, 1)");
        } else if (key == "seed") {
            o.seed = number_option<std::uint64_t>("seed", value);
        } else if (key == "as_of") {
            o.as_of = number_option<std::int64_t>("as_of", value);
            if (*o.as_of == FK_MISSING_TIME) bad_option("as_of", value, "is the missing-time marker, not a time");
        } else if (key == "unit_name") {
            if (value.empty()) bad_option("unit_name", value, "must not be empty");
            o.unit_name = value;
        } else {
            bad_option("options", key + "=" + value,
                       "is not one of count=, win_rate=, cycle_from=, cycle_over=, cycle_stat=, bootstrap=, "
                       "confidence=, seed=, as_of=, unit_name=");
        }
    }
    if (end <= start)
        bad_option("period_end", std::to_string(end), "must be after period_start " + std::to_string(start));
    return o;
}

// The options are read as key=value pairs; throws naming the first key whose value differs
// between the options of earlier rows and `now` (both valid, so each key is there at most once).
[[noreturn]] void different_option(std::string_view before, std::string_view now) {
    const auto a = option_pairs(before), b = option_pairs(now);
    const auto value = [](const auto& list, const std::string& key) -> std::string {
        for (const auto& [k, v] : list)
            if (k == key) return v;
        return "(not given)";
    };
    for (const auto* list : {&a, &b})
        for (const auto& [key, v] : *list)
            if (value(a, key) != value(b, key))
                bad_option(key, value(b, key),
                           "differs from the " + value(a, key) + " of earlier rows: it must be constant");
    bad_option("options", now, "differ from the options of earlier rows ('" + std::string(before) + "')");
}

// cycle_from=sql or first_touch reads a column of cycle starts, which only rows added with them
// carry.
void check_cycle_columns(const fk_deals& h, const fk::velocity_options& o) {
    if (o.cycle_from == fk::cycle_start::created || h.has_starts) return;
    const std::string word(fk::to_string(o.cycle_from));
    bad_option("cycle_from", word,
               "needs the " + std::string(o.cycle_from == fk::cycle_start::sql ? "sql_time" : "first_touch") +
                   " column, which these deal rows do not carry: add them with fk_deals_add_cycle_starts (in SQL, "
                   "the velocity aggregate that takes sql_time and first_touch)");
}

// The options the drivers of V depend on, as the basis column of funnelkit.velocity writes them.
std::string velocity_basis(const fk::velocity_options& o) {
    return "count=" + std::string(fk::to_string(o.count)) + ", win_rate=" + std::string(fk::to_string(o.win_rate)) +
           ", cycle_from=" + std::string(fk::to_string(o.cycle_from)) + ", cycle_over=" +
           std::string(fk::to_string(o.cycle_over)) + ", cycle_stat=" + std::string(fk::to_string(o.cycle_stat)) +
           ", unit=" + o.unit_name;
}

void read_deals(const void* data, std::size_t size, fk_deals& h) {
    fk::detail::byte_reader r(data, size, deals_magic, "fk_deals");
    const std::uint16_t version = r.accept_versions(deals_first_format, deals_format);
    const auto defined = r.get<std::uint8_t>();
    if (defined > 1) r.fail("a flag byte is not 0 or 1");
    h.defined = defined == 1;
    h.start = r.get<std::int64_t>();
    h.end = r.get<std::int64_t>();
    h.unit = r.get<double>();
    h.options = r.get_string();
    h.created = get_array<std::int64_t>(r, "created");
    h.closed = get_array<std::int64_t>(r, "closed");
    h.outcome = get_array<std::int8_t>(r, "outcome");
    h.amount = get_array<double>(r, "amount");
    if (version >= 3) {
        const auto has_starts = r.get<std::uint8_t>();
        if (has_starts > 1) r.fail("a flag byte is not 0 or 1");
        h.has_starts = has_starts == 1;
        if (h.has_starts) {
            h.sql_time = get_array<std::int64_t>(r, "sql_time");
            h.first_touch = get_array<std::int64_t>(r, "first_touch");
        }
    }
    r.finish();
    const std::size_t n = h.created.size();
    if (h.closed.size() != n || h.outcome.size() != n || h.amount.size() != n ||
        (h.has_starts && (h.sql_time.size() != n || h.first_touch.size() != n)))
        r.fail("columns differ in length");
    try {
        deal_records(h).validate();
        if (h.defined) velocity_options(h.start, h.end, h.unit, h.options.c_str());
        else if (h.start != 0 || h.end != 0 || h.unit != 0 || !h.options.empty())
            throw fk::invalid_argument("an undefined buffer records a period, unit or options");
    } catch (const fk::invalid_argument& e) {
        r.fail(e.what());
    }
}

void check_segment(std::int32_t segment) {
    if (segment < -1) bad_option("segment", std::to_string(segment), "must be >= 0, or -1 for all entities");
}

// A rate of a conversion state (step or cumulative): the value, or 0 and *defined = 0.
template <class Rate>
fk_status conversion_rate(const fk_conversion* h, int32_t segment, double* rate, int* defined, Rate get) noexcept {
    if (defined == nullptr) return null_pointer(h, "defined");
    return query(h, rate, "rate", [&] {
        check_segment(segment);
        const std::optional<double> r = get(h->counts);
        *rate = r.value_or(0.0);
        *defined = r ? 1 : 0;
    });
}

// Checks one deal row as opportunity_records::validate does (the whole buffer is validated again
// by funnelkit::velocity), so that SQL names the bad row as it arrives, and appends it.
void add_deal(fk_deals& h, std::int64_t created, std::int64_t closed, std::int32_t outcome, double amount,
              std::int64_t sql_time, std::int64_t first_touch) {
    const std::size_t row = h.created.size();
    if (outcome < FK_DEAL_OPEN || outcome > FK_DEAL_LOST)
        fk::detail::throw_at_row("outcome", row, std::to_string(outcome), "is not an outcome code (0 open, 1 won, 2 lost)");
    if (!std::isfinite(amount) || amount < 0)
        fk::detail::throw_at_row("amount", row, fk::detail::to_text(amount), "must be finite and >= 0");
    if (created == FK_MISSING_TIME) fk::detail::throw_at_row("created", row, "missing", "is required");
    if (outcome != FK_DEAL_OPEN) {
        if (closed == FK_MISSING_TIME)
            fk::detail::throw_at_row("closed", row, "missing", "is required for a won or lost deal");
        if (closed < created)
            fk::detail::throw_at_row("closed", row, std::to_string(closed),
                                     "is before the creation time " + std::to_string(created));
        const std::pair<const char*, std::int64_t> starts[] = {{"sql_time", sql_time}, {"first_touch", first_touch}};
        for (const auto& [column, t] : starts)
            if (t != FK_MISSING_TIME && t > closed)
                fk::detail::throw_at_row(column, row, std::to_string(t), "is after the close time " + std::to_string(closed));
    }
    if (sql_time != FK_MISSING_TIME || first_touch != FK_MISSING_TIME) add_start_columns(h);
    h.created.push_back(created);
    h.closed.push_back(outcome == FK_DEAL_OPEN ? FK_MISSING_TIME : closed);
    h.outcome.push_back(static_cast<std::int8_t>(outcome));
    h.amount.push_back(amount);
    if (h.has_starts) {
        h.sql_time.push_back(sql_time);
        h.first_touch.push_back(first_touch);
    }
}

}  // namespace

// The free and error functions every handle type has.
#define FK_HANDLE_FUNCTIONS(type)                                 \
    void type##_free(type* h) { delete h; }                       \
    const char* type##_error(const type* h) { return h ? h->error.c_str() : ""; }

extern "C" {

FK_HANDLE_FUNCTIONS(fk_events)
FK_HANDLE_FUNCTIONS(fk_funnel_counts)
FK_HANDLE_FUNCTIONS(fk_conversion)
FK_HANDLE_FUNCTIONS(fk_deals)
FK_HANDLE_FUNCTIONS(fk_plan)

const char* fk_version(void) { return FUNNELKIT_VERSION_STRING; }
const char* fk_last_error(void) { return last_error.c_str(); }

const char* fk_status_name(fk_status status) {
    switch (status) {
        case FK_OK: return "ok";
        case FK_INVALID_ARGUMENT: return "invalid argument";
        case FK_OUT_OF_MEMORY: return "out of memory";
        case FK_INTERNAL: return "internal error";
        case FK_NULL_POINTER: return "null pointer";
    }
    return "unknown status";
}

// ---- window funnel ------------------------------------------------------------------------

fk_status fk_window_funnel_modes(const char* text, uint32_t* flags) {
    FK_REQUIRE(nullptr, flags);
    return guarded(nullptr, [&] {
        const std::uint32_t f = parse_modes(text);
        check_modes(f);
        *flags = f;
    });
}

fk_status fk_window_funnel_level(const int64_t* times, const uint64_t* masks, size_t n, int64_t window,
                                 uint32_t steps, uint32_t modes, uint32_t* level) {
    FK_REQUIRE(nullptr, level);
    if (n > 0) {
        FK_REQUIRE(nullptr, times);
        FK_REQUIRE(nullptr, masks);
    }
    return guarded(nullptr, [&] {
        check_definition(window, steps, modes);
        *level = single_level({times, n}, {masks, n}, window, steps, modes);
    });
}

fk_status fk_events_new(fk_events** out) {
    FK_REQUIRE(nullptr, out);
    return create(out);
}


fk_status fk_events_define(fk_events* h, int64_t window, uint32_t steps, uint32_t modes) {
    FK_REQUIRE(nullptr, h);
    if (h->defined && h->window == window && h->steps == steps && h->modes == modes) return FK_OK;  // the hot path
    return guarded(h, [&] {
        check_definition(window, steps, modes);
        if (h->defined) {
            if (h->window != window)
                bad_option("window", std::to_string(window),
                           "differs from the window of earlier rows (" + std::to_string(h->window) + "): it must be constant");
            if (h->steps != steps)
                bad_option("conditions", std::to_string(steps),
                           "differs from the number of conditions of earlier rows (" + std::to_string(h->steps) + ")");
            bad_option("mode", std::to_string(modes), "differs from the mode of earlier rows: it must be constant");
        }
        for (std::size_t i = 0; i < h->mask.size(); ++i)
            if (steps < 64 && (h->mask[i] >> steps) != 0)
                fk::detail::throw_at_row("conditions", i, std::to_string(h->mask[i]), "matches a step beyond the steps");
        h->defined = true;
        h->window = window;
        h->steps = steps;
        h->modes = modes;
        if (!h->keeps_empty()) {
            std::size_t k = 0;
            for (std::size_t i = 0; i < h->time.size(); ++i) {
                if (h->mask[i] == 0) continue;
                h->time[k] = h->time[i];
                h->mask[k] = h->mask[i];
                if (h->has_entity) h->entity[k] = h->entity[i];
                ++k;
            }
            h->time.resize(k);
            h->mask.resize(k);
            if (h->has_entity) h->entity.resize(k);
        }
    });
}

fk_status fk_events_add(fk_events* h, int64_t time, uint64_t mask) {
    FK_REQUIRE(nullptr, h);
    if (mask == 0 && !h->keeps_empty()) return FK_OK;
    return guarded(h, [&] {
        h->check_mask(mask, h->time.size());
        h->reserve_one();
        h->time.push_back(time);
        h->mask.push_back(mask);
        if (h->has_entity) h->entity.push_back(0);
    });
}

fk_status fk_events_add_columns(fk_events* h, const int64_t* entity, const int64_t* time, const uint64_t* mask,
                                size_t n) {
    FK_REQUIRE(nullptr, h);
    if (n == 0) return FK_OK;
    FK_REQUIRE(h, time);
    FK_REQUIRE(h, mask);
    return guarded(h, [&] {
        for (std::size_t i = 0; i < n; ++i) h->check_mask(mask[i], i);
        if (entity != nullptr && !h->has_entity) {
            h->entity.assign(h->time.size(), 0);
            h->has_entity = true;
        }
        const bool keep = h->keeps_empty();
        for (std::size_t i = 0; i < n; ++i) {
            if (mask[i] == 0 && !keep) continue;
            h->time.push_back(time[i]);
            h->mask.push_back(mask[i]);
            if (h->has_entity) h->entity.push_back(entity ? entity[i] : 0);
        }
    });
}

fk_status fk_events_merge(fk_events* h, const fk_events* other) {
    FK_REQUIRE(nullptr, h);
    FK_REQUIRE(h, other);
    return guarded(h, [&] {
        if (other->defined) {
            if (fk_events_define(h, other->window, other->steps, other->modes) != FK_OK)
                throw fk::invalid_argument("cannot merge fk_events: " + h->error);
        } else if (h->defined) {
            for (std::size_t i = 0; i < other->mask.size(); ++i) h->check_mask(other->mask[i], i);
        }
        if (other->has_entity && !h->has_entity) {
            h->entity.assign(h->time.size(), 0);
            h->has_entity = true;
        }
        const bool keep = h->keeps_empty();
        const std::size_t n = other->time.size();
        h->time.reserve(h->time.size() + n);
        h->mask.reserve(h->mask.size() + n);
        for (std::size_t i = 0; i < n; ++i) {
            if (other->mask[i] == 0 && !keep) continue;
            h->time.push_back(other->time[i]);
            h->mask.push_back(other->mask[i]);
            if (h->has_entity) h->entity.push_back(other->has_entity ? other->entity[i] : 0);
        }
    });
}

fk_status fk_events_size(const fk_events* h, size_t* n, int* defined) {
    FK_REQUIRE(nullptr, h);
    if (n) *n = h->time.size();
    if (defined) *defined = h->defined ? 1 : 0;
    return FK_OK;
}

fk_status fk_events_serialize(fk_events* h, const void** data, size_t* size) {
    return serialize_into(h, data, size, write_events);
}

fk_status fk_events_deserialize(const void* data, size_t size, fk_events** out) {
    return deserialize_new(data, size, out, read_events);
}

fk_status fk_events_level(const fk_events* h, uint32_t* level) {
    return query(h, level, "level", [&] {
        if (h->time.empty()) {
            *level = 0;
            return;
        }
        if (!h->defined) throw fk::invalid_argument("fk_events: no window and steps were given (fk_events_define)");
        *level = single_level(h->time, h->mask, h->window, h->steps, h->modes);
    });
}

fk_status fk_events_counts(const fk_events* h, fk_funnel_counts** out) {
    return query(h, out, "out", [&] {
        if (!h->defined) throw fk::invalid_argument("fk_events: no window and steps were given (fk_events_define)");
        auto* c = new fk_funnel_counts();
        try {
            const std::vector<std::int64_t> zero(h->has_entity ? 0 : h->time.size(), 0);
            fk::event_columns ev{h->has_entity ? std::span<const std::int64_t>(h->entity) : zero, h->time, {}, h->mask};
            c->counts = fk::window_funnel(ev, funnel_options(h->window, h->steps, h->modes)).counts;
        } catch (...) {
            delete c;
            throw;
        }
        *out = c;
    });
}

// ---- funnel counts ------------------------------------------------------------------------

fk_status fk_funnel_counts_new(uint32_t steps, fk_funnel_counts** out) {
    FK_REQUIRE(nullptr, out);
    return guarded(nullptr, [&] {
        if (steps < 1 || steps > 64) bad_option("steps", std::to_string(steps), "must be 1 to 64");
        auto* c = new fk_funnel_counts();
        c->counts = fk::window_funnel_counts(steps);
        *out = c;
    });
}


fk_status fk_funnel_counts_add(fk_funnel_counts* h, uint32_t level, int64_t count) {
    FK_REQUIRE(nullptr, h);
    return guarded(h, [&] {
        if (level > h->counts.steps())
            bad_option("level", std::to_string(level), "exceeds the " + std::to_string(h->counts.steps()) + " steps");
        if (count < 0) bad_option("count", std::to_string(count), "must be >= 0");
        h->counts.add(level, count);
    });
}

fk_status fk_funnel_counts_merge(fk_funnel_counts* h, const fk_funnel_counts* other) {
    FK_REQUIRE(nullptr, h);
    FK_REQUIRE(h, other);
    return guarded(h, [&] { h->counts.merge(other->counts); });
}

fk_status fk_funnel_counts_steps(const fk_funnel_counts* h, uint32_t* steps) {
    return query(h, steps, "steps", [&] { *steps = static_cast<uint32_t>(h->counts.steps()); });
}

fk_status fk_funnel_counts_reached(const fk_funnel_counts* h, uint32_t level, int64_t* count) {
    return query(h, count, "count", [&] { *count = h->counts.reached(level); });
}

fk_status fk_funnel_counts_serialize(fk_funnel_counts* h, const void** data, size_t* size) {
    return serialize_into(h, data, size, [](const fk_funnel_counts& c) { return c.counts.serialize(); });
}

fk_status fk_funnel_counts_deserialize(const void* data, size_t size, fk_funnel_counts** out) {
    return deserialize_new(data, size, out, [](const void* d, std::size_t n, fk_funnel_counts& c) {
        c.counts = fk::window_funnel_counts::deserialize(d, n);
    });
}

// ---- stage reach and conversion ------------------------------------------------------------

fk_status fk_reach_mask(int32_t rank, uint32_t n_stages, int implied, uint64_t* mask) {
    FK_REQUIRE(nullptr, mask);
    return guarded(nullptr, [&] {
        if (n_stages < 1 || n_stages > 64) bad_option("n_stages", std::to_string(n_stages), "must be 1 to 64");
        if (rank >= static_cast<std::int64_t>(n_stages))
            bad_option("rank", std::to_string(rank),
                       "is not a ladder rank (0 to " + std::to_string(n_stages - 1) + ", or negative for off-ladder)");
        if (rank < 0) {
            *mask = 0;
            return;
        }
        const std::uint64_t bit = std::uint64_t{1} << rank;
        *mask = implied ? (bit | (bit - 1)) : bit;
    });
}

fk_status fk_conversion_new(uint32_t n_stages, int implied, fk_conversion** out) {
    FK_REQUIRE(nullptr, out);
    return guarded(nullptr, [&] {
        if (n_stages < 1 || n_stages > 64) bad_option("n_stages", std::to_string(n_stages), "must be 1 to 64");
        fk::conversion_definition def;
        def.skipped = implied ? fk::skipped_stages::implied : fk::skipped_stages::not_implied;
        def.passes = fk::recycled_passes::first_only;
        auto* h = new fk_conversion();
        h->counts = fk::conversion_counts(n_stages, 0, def);
        *out = h;
    });
}


fk_status fk_conversion_add(fk_conversion* h, uint64_t reached_mask, int32_t segment) {
    FK_REQUIRE(nullptr, h);
    return guarded(h, [&] {
        check_segment(segment);
        h->counts.add_entity(reached_mask, segment);
    });
}

fk_status fk_conversion_merge(fk_conversion* h, const fk_conversion* other) {
    FK_REQUIRE(nullptr, h);
    FK_REQUIRE(h, other);
    return guarded(h, [&] { h->counts.merge(other->counts); });
}

fk_status fk_conversion_shape(const fk_conversion* h, uint32_t* n_stages, uint32_t* n_segments) {
    FK_REQUIRE(nullptr, h);
    if (n_stages) *n_stages = static_cast<uint32_t>(h->counts.n_stages());
    if (n_segments) *n_segments = static_cast<uint32_t>(h->counts.n_segments());
    return FK_OK;
}

fk_status fk_conversion_entities(const fk_conversion* h, int32_t segment, int64_t* count) {
    return query(h, count, "count", [&] {
        check_segment(segment);
        *count = h->counts.entities(segment);
    });
}

fk_status fk_conversion_reached(const fk_conversion* h, uint32_t rank, int32_t segment, int64_t* count) {
    return query(h, count, "count", [&] {
        check_segment(segment);
        *count = h->counts.reached(rank, segment);
    });
}

fk_status fk_conversion_step_rate(const fk_conversion* h, uint32_t rank, int32_t segment, double* rate,
                                  int* defined) {
    return conversion_rate(h, segment, rate, defined,
                           [&](const fk::conversion_counts& c) { return c.step_rate(rank, segment); });
}

fk_status fk_conversion_cumulative_rate(const fk_conversion* h, uint32_t rank, int32_t segment, double* rate,
                                        int* defined) {
    return conversion_rate(h, segment, rate, defined,
                           [&](const fk::conversion_counts& c) { return c.cumulative_rate(rank, segment); });
}

fk_status fk_conversion_serialize(fk_conversion* h, const void** data, size_t* size) {
    return serialize_into(h, data, size, [](const fk_conversion& c) { return c.counts.serialize(); });
}

fk_status fk_conversion_deserialize(const void* data, size_t size, fk_conversion** out) {
    return deserialize_new(data, size, out, [](const void* d, std::size_t n, fk_conversion& c) {
        c.counts = fk::conversion_counts::deserialize(d, n);
    });
}

// ---- rates ------------------------------------------------------------------------------------

fk_status fk_rate_interval(int64_t successes, int64_t trials, double confidence, const char* method,
                           fk_interval* out) {
    FK_REQUIRE(nullptr, out);
    return guarded(nullptr, [&] {
        const auto m = method ? fk::parse_interval_method(method) : fk::interval_method::wilson;
        const auto r = fk::rate_interval(successes, trials, confidence, m);
        *out = r ? fk_interval{r->estimate, r->lower, r->upper, 1} : fk_interval{0, 0, 0, 0};
    });
}

fk_status fk_two_proportion_ztest(int64_t x_a, int64_t n_a, int64_t x_b, int64_t n_b, const char* alternative,
                                  fk_test* out) {
    FK_REQUIRE(nullptr, out);
    return guarded(nullptr, [&] {
        const auto alt = alternative ? fk::parse_alternative(alternative) : fk::alternative::two_sided;
        const auto r = fk::two_proportion_ztest(x_a, n_a, x_b, n_b, alt);
        *out = r ? fk_test{r->statistic, r->p_value, 1} : fk_test{0, 0, 0};
    });
}

fk_status fk_chi2_two_proportions(int64_t x_a, int64_t n_a, int64_t x_b, int64_t n_b, int yates, fk_test* out) {
    FK_REQUIRE(nullptr, out);
    return guarded(nullptr, [&] {
        const auto r = fk::chi2_two_proportions(x_a, n_a, x_b, n_b, yates != 0);
        *out = r ? fk_test{r->statistic, r->p_value, 1} : fk_test{0, 0, 0};
    });
}

// ---- velocity ---------------------------------------------------------------------------------

fk_status fk_deal_outcome(const char* text, int32_t* outcome) {
    FK_REQUIRE(nullptr, text);
    FK_REQUIRE(nullptr, outcome);
    return guarded(nullptr, [&] {
        std::string w = trim(text);
        for (char& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (w == "won") *outcome = FK_DEAL_WON;
        else if (w == "lost") *outcome = FK_DEAL_LOST;
        else if (w == "open") *outcome = FK_DEAL_OPEN;
        else bad_option("outcome", text, "is not an outcome (won, lost, open)");
    });
}

fk_status fk_deals_new(fk_deals** out) {
    FK_REQUIRE(nullptr, out);
    return create(out);
}


fk_status fk_deals_add(fk_deals* h, int64_t created, int64_t closed, int32_t outcome, double amount) {
    FK_REQUIRE(nullptr, h);
    return guarded(h, [&] { add_deal(*h, created, closed, outcome, amount, FK_MISSING_TIME, FK_MISSING_TIME); });
}

fk_status fk_deals_add_cycle_starts(fk_deals* h, int64_t created, int64_t closed, int32_t outcome, double amount,
                                    int64_t sql_time, int64_t first_touch) {
    FK_REQUIRE(nullptr, h);
    return guarded(h, [&] {
        add_deal(*h, created, closed, outcome, amount, sql_time, first_touch);
        add_start_columns(*h);  // also when this row has neither: the rows carry the columns
    });
}

fk_status fk_deals_merge(fk_deals* h, const fk_deals* other) {
    FK_REQUIRE(nullptr, h);
    FK_REQUIRE(h, other);
    return guarded(h, [&] {
        if (other->defined && fk_deals_define(h, other->start, other->end, other->unit, other->options.c_str()) != FK_OK)
            throw fk::invalid_argument("cannot merge fk_deals: " + h->error);
        if (other->has_starts) add_start_columns(*h);
        const std::size_t n = other->created.size();
        h->created.insert(h->created.end(), other->created.begin(), other->created.end());
        h->closed.insert(h->closed.end(), other->closed.begin(), other->closed.end());
        h->outcome.insert(h->outcome.end(), other->outcome.begin(), other->outcome.end());
        h->amount.insert(h->amount.end(), other->amount.begin(), other->amount.end());
        if (h->has_starts) {
            if (other->has_starts) {
                h->sql_time.insert(h->sql_time.end(), other->sql_time.begin(), other->sql_time.end());
                h->first_touch.insert(h->first_touch.end(), other->first_touch.begin(), other->first_touch.end());
            } else {
                h->sql_time.insert(h->sql_time.end(), n, FK_MISSING_TIME);
                h->first_touch.insert(h->first_touch.end(), n, FK_MISSING_TIME);
            }
        }
    });
}

fk_status fk_deals_size(const fk_deals* h, size_t* n) {
    return query(h, n, "n", [&] { *n = h->created.size(); });
}

fk_status fk_deals_serialize(fk_deals* h, const void** data, size_t* size) {
    return serialize_into(h, data, size, write_deals);
}

fk_status fk_deals_deserialize(const void* data, size_t size, fk_deals** out) {
    return deserialize_new(data, size, out, read_deals);
}

namespace {
void velocity_into(fk_deals* h, std::int64_t start, std::int64_t end, double unit, const char* options,
                   fk_velocity* out) {
    const fk::velocity_options o = velocity_options(start, end, unit, options);
    check_cycle_columns(*h, o);
    const fk::period p{start, end};
    const auto rows = fk::velocity(deal_records(*h), std::span<const fk::period>(&p, 1), o);
    const fk::velocity_result& r = rows.at(0);
    h->reason = r.reason;
    fk_velocity v{};
    v.n = r.n;
    v.won = r.won;
    v.lost = r.lost;
    v.cycle_deals = r.cycle_deals;
    v.cycle_missing = r.cycle_missing;
    v.won_amount = r.won_amount;
    v.lost_amount = r.lost_amount;
    v.deal_value = r.deal_value.value_or(0.0);
    v.win_rate = r.win_rate.value_or(0.0);
    v.cycle_length = r.cycle_length.value_or(0.0);
    v.velocity = r.velocity.value_or(0.0);
    v.has_deal_value = r.deal_value ? 1 : 0;
    v.has_win_rate = r.win_rate ? 1 : 0;
    v.has_cycle_length = r.cycle_length ? 1 : 0;
    v.has_velocity = r.velocity ? 1 : 0;
    v.period_length = r.period_length;
    v.realised = r.realised;
    v.velocity_per_period = r.velocity_per_period.value_or(0.0);
    v.has_velocity_per_period = r.velocity_per_period ? 1 : 0;
    v.ci_lower = r.ci_lower.value_or(0.0);
    v.ci_upper = r.ci_upper.value_or(0.0);
    v.has_ci = r.ci_lower && r.ci_upper ? 1 : 0;
    v.bootstrap_undefined = r.bootstrap_undefined;
    v.status = static_cast<int>(r.status);
    v.reason = h->reason.c_str();
    v.as_of = r.as_of;
    v.observed = r.observed;
    v.partial = r.partial ? 1 : 0;
    h->basis = velocity_basis(r.options);
    v.basis = h->basis.c_str();
    *out = v;
}
}  // namespace

fk_status fk_deals_velocity(fk_deals* h, int64_t start, int64_t end, double unit, const char* options,
                            fk_velocity* out) {
    return query(h, out, "out", [&] { velocity_into(h, start, end, unit, options, out); });
}

fk_status fk_deals_define(fk_deals* h, int64_t start, int64_t end, double unit, const char* options) {
    FK_REQUIRE(nullptr, h);
    const char* opts = options ? options : "";
    if (h->defined && h->start == start && h->end == end && h->unit == unit && h->options == opts) return FK_OK;
    return guarded(h, [&] {
        velocity_options(start, end, unit, opts);
        if (h->defined) {
            if (h->start != start || h->end != end)
                bad_option("period", std::to_string(start) + ".." + std::to_string(end),
                           "differs from the period of earlier rows (" + std::to_string(h->start) + ".." +
                               std::to_string(h->end) + "): it must be constant");
            if (h->unit != unit) bad_option("unit", fk::detail::to_text(unit), "differs from the unit of earlier rows");
            different_option(h->options, opts);
        }
        h->defined = true;
        h->start = start;
        h->end = end;
        h->unit = unit;
        h->options = opts;
    });
}

fk_status fk_deals_result(fk_deals* h, fk_velocity* out) {
    return query(h, out, "out", [&] {
        if (!h->defined) throw fk::invalid_argument("fk_deals: no period was given (fk_deals_define)");
        velocity_into(h, h->start, h->end, h->unit, h->options.c_str(), out);
    });
}

// ---- reverse funnel ---------------------------------------------------------------------------

fk_status fk_plan_reverse_funnel(double goal, double deal_value, const char* const* names, const double* rates,
                                 size_t n_steps, const char* won_name, int32_t periods, int32_t reps,
                                 const char* rounding, fk_plan** out) {
    FK_REQUIRE(nullptr, out);
    if (n_steps > 0) {
        FK_REQUIRE(nullptr, names);
        FK_REQUIRE(nullptr, rates);
    }
    return guarded(nullptr, [&] {
        fk::reverse_funnel_options o;
        o.goal = goal;
        o.deal_value = deal_value;
        for (std::size_t i = 0; i < n_steps; ++i) {
            if (names[i] == nullptr) fk::detail::throw_at_row("stages", i, "NULL", "is not a stage name");
            o.steps.push_back({names[i], rates[i]});
        }
        if (won_name) o.won_name = won_name;
        o.periods = periods;
        o.reps = reps;
        if (rounding != nullptr) {
            const std::string_view word(rounding);
            if (word == "deals_first" || word == "from_goal") o.rounding = fk::plan_rounding::deals_first;
            else if (word == "chained") o.rounding = fk::plan_rounding::chained;
            else if (word == "round_once") o.rounding = fk::plan_rounding::round_once;
            else bad_option("rounding", word, "is not one of 'deals_first' (formerly 'from_goal'), 'chained', 'round_once'");
        }
        auto* h = new fk_plan();
        try {
            h->plan = fk::plan_reverse_funnel(o);
        } catch (...) {
            delete h;
            throw;
        }
        *out = h;
    });
}


fk_status fk_plan_size(const fk_plan* h, size_t* rows) {
    return query(h, rows, "rows", [&] { *rows = h->plan.rows.size(); });
}

fk_status fk_plan_row_at(const fk_plan* h, size_t i, fk_plan_row* out) {
    return query(h, out, "out", [&] {
        if (i >= h->plan.rows.size())
            bad_option("row", std::to_string(i), "is beyond the plan's " + std::to_string(h->plan.rows.size()) + " rows");
        const fk::plan_row& r = h->plan.rows[i];
        *out = fk_plan_row{r.name.c_str(), r.rate.value_or(0.0), r.rate ? 1 : 0, r.rate_to_won, r.exact, r.volume,
                           r.per_period, r.per_rep_per_period};
    });
}

}  // extern "C"
