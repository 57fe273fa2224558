// Ingestion helpers of the Python layer for columns of labels (strings, categories): a column
// of Python strings to dense codes, and the counting and remapping of label codes. Each is one
// pass in C++ over the column, so that no Python code runs per element.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/detail/entity_index.hpp"
#include "funnelkit/detail/exact_sum.hpp"
#include "funnelkit/detail/prefetch.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

namespace funnelkit::python {
namespace {

/// Slots of encode_strings' direct-mapped cache from a string object's address to its code.
constexpr std::size_t string_cache_slots = 4096;
inline std::size_t cache_slot(PyObject* o) noexcept {
    return (reinterpret_cast<std::uintptr_t>(o) >> 4) & (string_cache_slots - 1);
}

/// Ways of the row counts of each cache slot: a label that repeats row after row would
/// otherwise have each row's count wait on the previous row's (1e7 rows: 11.6 ms with one way).
constexpr std::size_t string_cache_ways = 4;

/// Codes of rows i.. while the cache knows their objects, counting the rows each slot answers
/// in rows_of[(row % ways) * slots + slot]; returns the first row it does not know (n when
/// none). A loop of its own, with nothing else in it: inside the loop that also handles new
/// strings, the compiler kept the pointers here on the stack, and the loop took longer.
template <class T>
[[gnu::noinline]] std::size_t encode_cached(const char* rows, py::ssize_t step, std::size_t i, std::size_t n,
                                            PyObject* const* keys, const std::int32_t* code_of,
                                            std::int64_t* rows_of, T* codes) {
    static_assert(string_cache_ways == 4);
    if (step == static_cast<py::ssize_t>(sizeof(PyObject*))) {
        // A contiguous column (the usual one), four rows at a time, each counted in its own way:
        // one test per four rows, no index arithmetic per row (1e7 rows: 7.7-8.3 -> 7.0-7.4 ms).
        PyObject* const* p = reinterpret_cast<PyObject* const*>(rows);
        if (i < n && keys[cache_slot(p[i])] != p[i]) return i;  // a column of fresh objects misses at once
        for (; i + 4 <= n; i += 4) {
            if ((i & 31) == 0) __builtin_prefetch(p + std::min(i + 256, n - 1));
            PyObject* const o0 = p[i];
            PyObject* const o1 = p[i + 1];
            PyObject* const o2 = p[i + 2];
            PyObject* const o3 = p[i + 3];
            const std::size_t s0 = cache_slot(o0), s1 = cache_slot(o1), s2 = cache_slot(o2), s3 = cache_slot(o3);
            if ((keys[s0] != o0) | (keys[s1] != o1) | (keys[s2] != o2) | (keys[s3] != o3)) [[unlikely]]
                break;
            codes[i] = static_cast<T>(code_of[s0]);
            codes[i + 1] = static_cast<T>(code_of[s1]);
            codes[i + 2] = static_cast<T>(code_of[s2]);
            codes[i + 3] = static_cast<T>(code_of[s3]);
            ++rows_of[(i % string_cache_ways) * string_cache_slots + s0];
            ++rows_of[((i + 1) % string_cache_ways) * string_cache_slots + s1];
            ++rows_of[((i + 2) % string_cache_ways) * string_cache_slots + s2];
            ++rows_of[((i + 3) % string_cache_ways) * string_cache_slots + s3];
        }
    }
    for (; i < n; ++i) {
        if ((i & 7) == 0)  // the object pointers a few kilobytes ahead (funnelkit/detail/prefetch.hpp)
            __builtin_prefetch(rows + static_cast<py::ssize_t>(std::min(i + 256, n - 1)) * step);
        PyObject* o = *reinterpret_cast<PyObject* const*>(rows + static_cast<py::ssize_t>(i) * step);
        const std::size_t slot = cache_slot(o);
        if (keys[slot] != o) [[unlikely]]
            return i;
        codes[i] = static_cast<T>(code_of[slot]);
        ++rows_of[(i % string_cache_ways) * string_cache_slots + slot];
    }
    return n;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/// Adds the rows of each code among codes[from, to) to rows_of[slot_of[j]] (two objects may
/// carry one code: each code once, on the first such object's slot).
template <class T>
[[gnu::target("avx512f,avx512bw")]] void count_codes_avx512(const T* codes, std::size_t from, std::size_t to,
                                                           const std::int32_t* code_of, const std::size_t* slot_of,
                                                           std::size_t k, std::int64_t* rows_of) {
    for (std::size_t j = 0; j < k; ++j) {
        if (std::find(code_of, code_of + j, code_of[j]) != code_of + j) continue;
        std::int64_t count = 0;
        std::size_t r = from;
        if constexpr (sizeof(T) == 1) {
            const __m512i want = _mm512_set1_epi8(static_cast<char>(code_of[j]));
            for (; r + 64 <= to; r += 64)
                count += std::popcount(_mm512_cmpeq_epi8_mask(_mm512_loadu_si512(codes + r), want));
        } else {
            const __m512i want = _mm512_set1_epi32(code_of[j]);
            for (; r + 16 <= to; r += 16)
                count += std::popcount(static_cast<unsigned>(_mm512_cmpeq_epi32_mask(_mm512_loadu_si512(codes + r), want)));
        }
        for (; r < to; ++r) count += codes[r] == static_cast<T>(code_of[j]);
        rows_of[slot_of[j]] += count;
    }
}

/// Most columns of labels hold a handful of string objects, one per label. While every row's
/// object is one of `k` <= 16 known ones, eight contiguous rows at a time are compared with all
/// of them at once (AVX-512) and their codes written, with no per-row lookup; each block of
/// 2048 rows is then counted from its codes while they are in cache (count_codes_avx512).
/// Stops at the first group of eight that holds another object (or at the end) and returns its
/// first row. 1e7 rows of 8 labels: 3.7-3.8 ms, against 7.0-7.4 ms through encode_cached and
/// 5.6 ms with the counts taken from the comparison masks row group by row group.
template <class T>
[[gnu::target("avx512f,avx512bw")]] std::size_t encode_known_avx512(PyObject* const* rows, std::size_t i, std::size_t n,
                                                                  PyObject* const* objects, const std::int32_t* code_of,
                                                                  const std::size_t* slot_of, std::size_t k,
                                                                  std::int64_t* rows_of, T* codes) {
    static_assert(sizeof(T) == 1 || sizeof(T) == 4);
    __m512i object[16], code[16];
    for (std::size_t j = 0; j < k; ++j) {
        object[j] = _mm512_set1_epi64(reinterpret_cast<long long>(objects[j]));
        code[j] = _mm512_set1_epi64(code_of[j]);
    }
    constexpr std::size_t block = 2048;
    bool stopped = false;
    while (!stopped && i + 8 <= n) {
        const std::size_t from = i, to = std::min(n, i + block);
        for (; i + 8 <= to; i += 8) {
            const __m512i v = _mm512_loadu_si512(rows + i);
            __m512i c = _mm512_setzero_si512();
            unsigned all = 0;
            for (std::size_t j = 0; j < k; ++j) {
                const __mmask8 hit = _mm512_cmpeq_epi64_mask(v, object[j]);
                all |= hit;
                c = _mm512_mask_mov_epi64(c, hit, code[j]);
            }
            if (all != 0xffu) {
                stopped = true;
                break;
            }
            if constexpr (sizeof(T) == 1)
                _mm_storel_epi64(reinterpret_cast<__m128i*>(codes + i), _mm512_cvtepi64_epi8(c));
            else
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + i), _mm512_cvtepi64_epi32(c));
        }
        count_codes_avx512(codes, from, i, code_of, slot_of, k, rows_of);
        stopped = stopped || to == n;
    }
    return i;
}
#endif

/// Codes of label texts (views the caller keeps alive): open addressing over a power-of-two
/// table, load at most 1/2. It answers a row whose string is a fresh object of a known label
/// (as json.loads or a numpy unicode array makes them, one object per row), where
/// std::unordered_map spent most of the row on its general-purpose hash, the bucket's division
/// and the node it points to. A text of at most 24 bytes is known by its length and three
/// words read from it (text_words), kept in its entry: finding it compares integers and reads
/// no bytes (lead ids of 18 characters, each row a fresh object, spent 44% of their time
/// comparing texts with the first object of their label, far away in memory, when only 16
/// bytes were kept).
class text_codes {
public:
    /// What finding a text takes: its words (text_words) and hash.
    struct probe {
        std::uint64_t w0, w1, w2, hash;
    };
    [[gnu::always_inline]] static probe probe_of(std::string_view text) noexcept {
        probe p = text_words(text);
        p.hash = hash(text, p);
        return p;
    }
    /// Asks for the cache line where finding the probed text starts.
    [[gnu::always_inline]] void prefetch(const probe& p) const noexcept { __builtin_prefetch(&slots_[home(p.hash)]); }

    /// The code of `text`, inserting `next` for it when absent (`fresh` then set).
    [[gnu::always_inline]] std::int32_t find_or_insert(std::string_view text, std::int32_t next, bool& fresh) {
        return find_or_insert(text, probe_of(text), next, fresh);
    }
    /// find_or_insert() given the text's probe_of().
    [[gnu::always_inline]] std::int32_t find_or_insert(std::string_view text, const probe& p, std::int32_t next, bool& fresh) {
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t pos = home(p.hash);; pos = (pos + 1) & mask) {
            entry& e = slots_[pos];
            if (e.code < 0) [[unlikely]]
                return insert(text, p, next, fresh);
            if (e.w0 == p.w0 && e.w1 == p.w1 && e.w2 == p.w2 && e.size == text.size() &&
                (text.size() <= 24 || std::memcmp(e.data, text.data(), text.size()) == 0)) {
                fresh = false;
                return e.code;
            }
        }
    }

private:
    struct entry {  // 48 bytes: the hash is taken again when the table grows
        std::uint64_t w0 = 0, w1 = 0, w2 = 0;  // text_words
        const char* data = nullptr;
        std::size_t size = 0;
        std::int32_t code = -1;  // -1: an empty slot
    };
    static std::uint64_t load8(const char* p) noexcept {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        return w;
    }
    static std::uint64_t load4(const char* p) noexcept {
        std::uint32_t w;
        std::memcpy(&w, p, 4);
        return w;
    }
    /// Three words read from a text by fixed-size loads only (a tail copied by a memcpy of
    /// variable length was the hottest spot of a row): its first eight bytes, its last eight
    /// (overlapping when shorter than 16), and from 17 bytes on the eight after the first
    /// eight; from 4 to 7 bytes its first and last four; below four bytes, the bytes. With the
    /// length they determine a text of at most 24 bytes.
    [[gnu::always_inline]] static probe text_words(std::string_view t) noexcept {
        const char* p = t.data();
        const std::size_t n = t.size();
        if (n >= 8) return {load8(p), load8(p + n - 8), n > 16 ? load8(p + 8) : 0, 0};
        if (n >= 4) return {load4(p) | load4(p + n - 4) << 32, 0, 0, 0};
        std::uint64_t w = 0;
        for (std::size_t i = 0; i < n; ++i) w |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
        return {w, 0, 0, 0};
    }
    /// Every byte of the text enters the hash: the words of text_words, and for a text past 24
    /// bytes the eight-byte words after them, through mix64. The table takes the top bits. A
    /// text of at most 24 bytes costs three independent multiplications (a chain of mix64 was
    /// most of the row's latency on columns of one object per row).
    [[gnu::always_inline]] static std::uint64_t hash(std::string_view t, const probe& w) noexcept {
        const std::uint64_t ends = w.w0 * 0x9E3779B97F4A7C15ull ^ (w.w1 + t.size()) * 0xD6E8FEB86659FD93ull;
        if (t.size() <= 16) return ends;
        std::uint64_t h = w.w2 * 0x94D049BB133111EBull;
        for (std::size_t i = 16; i + 8 < t.size(); i += 8) h = funnelkit::detail::mix64(h ^ load8(t.data() + i));
        return ends ^ h;
    }
    std::size_t home(std::uint64_t h) const noexcept { return static_cast<std::size_t>(h >> shift_); }
    [[gnu::noinline]] std::int32_t insert(std::string_view text, const probe& p, std::int32_t next, bool& fresh) {
        if ((size_ + 1) * 2 > slots_.size()) grow();
        const std::size_t mask = slots_.size() - 1;
        std::size_t pos = home(p.hash);
        while (slots_[pos].code >= 0) pos = (pos + 1) & mask;
        slots_[pos] = {p.w0, p.w1, p.w2, text.data(), text.size(), next};
        ++size_;
        fresh = true;
        return next;
    }
    void grow() {
        std::vector<entry> old(slots_.size() * 2);
        old.swap(slots_);
        --shift_;
        const std::size_t mask = slots_.size() - 1;
        for (const entry& e : old) {
            if (e.code < 0) continue;
            std::size_t pos = home(probe_of(std::string_view(e.data, e.size)).hash);
            while (slots_[pos].code >= 0) pos = (pos + 1) & mask;
            slots_[pos] = e;
        }
    }
    std::vector<entry> slots_ = std::vector<entry>(64);
    unsigned shift_ = 64 - 6;  // 64 minus log2 of the slots
    std::size_t size_ = 0;
};

/// Codes of a one-dimensional object array of str, in order of first appearance (None and
/// float NaN: -1), the distinct strings (the first object holding each) and the rows per code
/// (code_counts' layout: one count per string, then the missing rows). `known` strings, when
/// given, come first with codes 0..len(known)-1 whether they occur or not (their counts say
/// which do), so that a caller who knows the labels it wants needs no remapping pass. The
/// codes are int8 while there are at most 128 distinct strings (codes 0..127: a quarter of the
/// fresh memory), int32 past that.
/// None when the array holds anything else, so that the caller's general path handles (and
/// reports) it.
py::object encode_strings(const py::array& values, const py::object& known) {
    if (values.ndim() != 1 || values.dtype().kind() != 'O') return py::none();
    const auto n = static_cast<std::size_t>(values.shape(0));
    const py::ssize_t stride = values.strides(0);
    const char* base = static_cast<const char*>(values.data());
    std::vector<PyObject*> firsts;
    // Views into each string's own UTF-8 (kept alive by the array, which holds the strings,
    // or by `known`).
    text_codes by_text;
    // The UTF-8 of a string: an ASCII string's (most labels: its own), read in place without
    // a call; `data` null for anything else. Returned through `data` and `size` rather than
    // as an optional view: copies of that, stored as two words and read back as one, stalled
    // every row (a third of the row on columns of one object per row).
    const auto ascii_text = [](PyObject* o, const char*& data, std::size_t& size) __attribute__((always_inline)) {
#if PY_VERSION_HEX < 0x030C0000
        const bool ascii = PyUnicode_Check(o) && PyUnicode_IS_READY(o) && PyUnicode_IS_COMPACT_ASCII(o);
#else
        const bool ascii = PyUnicode_Check(o) && PyUnicode_IS_COMPACT_ASCII(o);
#endif
        data = ascii ? static_cast<const char*>(PyUnicode_DATA(o)) : nullptr;
        size = ascii ? static_cast<std::size_t>(PyUnicode_GET_LENGTH(o)) : 0;
    };
    // Any string's UTF-8 (`data` null for lone surrogates, which have none: left to the general
    // path).
    const auto text_of = [&](PyObject* o, const char*& data, std::size_t& size) __attribute__((always_inline)) {
        ascii_text(o, data, size);
        if (data) return;
        Py_ssize_t len = 0;
        data = PyUnicode_AsUTF8AndSize(o, &len);
        if (data == nullptr) PyErr_Clear();
        size = static_cast<std::size_t>(len);
    };
    if (!known.is_none())
        for (const py::handle h : py::iter(known)) {
            if (!PyUnicode_Check(h.ptr())) throw funnelkit::invalid_argument("known labels must be strings");
            const char* data;
            std::size_t size;
            text_of(h.ptr(), data, size);
            if (!data) return py::none();
            const std::string_view text(data, size);
            bool fresh;
            by_text.find_or_insert(text, static_cast<std::int32_t>(firsts.size()), fresh);
            if (!fresh) throw funnelkit::invalid_argument("known label '" + std::string(text) + "' is given twice");
            firsts.push_back(h.ptr());
        }
    // The same label is usually the same object row after row: a direct-mapped cache from the
    // object's address to its code answers those without reading the text. Each slot also
    // counts the rows it answered, added to its code's count when the slot is taken by another
    // object and at the end: the counts cost no pass of their own.
    std::vector<PyObject*> cache_key(string_cache_slots, nullptr);
    std::vector<std::int32_t> cache_code(string_cache_slots, 0);
    std::vector<std::int64_t> cache_rows(string_cache_ways * string_cache_slots, 0);
    std::vector<std::int64_t> counts(firsts.size() + 1, 0);  // counts[0]: missing, counts[1 + j]: code j
    // Moves the rows a slot counted to its code's count.
    // (The helpers below take the cache's arrays by value: through references, every int8
    // code stored would make them read again, as a store of a character type may alias them.)
    PyObject** const slot_key = cache_key.data();
    std::int32_t* const slot_code = cache_code.data();
    std::int64_t* const slot_rows = cache_rows.data();
    const auto flush = [slot_code, slot_rows, &counts](std::size_t slot) {
        for (std::size_t w = 0; w < string_cache_ways; ++w) {
            std::int64_t& r = slot_rows[w * string_cache_slots + slot];
            counts[static_cast<std::size_t>(slot_code[slot] + 1)] += r;
            r = 0;
        }
    };
    // While at most 16 objects have entered the cache (so at most 16 are in it), a contiguous
    // column goes through encode_known_avx512 first, where the processor has AVX-512.
    std::size_t entered = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    static const bool wide = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    const bool vector_rows = wide && stride == static_cast<py::ssize_t>(sizeof(PyObject*));
#else
    const bool vector_rows = false;
#endif
    // A label met for the first time: its first object, and a count.
    const auto new_label = [&](PyObject* o) {
        if (firsts.size() == static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
            throw funnelkit::invalid_argument("more than 2^31 - 1 distinct labels in one column");
        firsts.push_back(o);
        counts.push_back(0);
    };
    // The code of any object the cache does not know: a string's (a new label gets the next
    // code), -1 for a missing value, nullopt for anything else or a string without UTF-8.
    const auto one_row = [&](PyObject* o) __attribute__((always_inline)) -> std::optional<std::int32_t> {
        if (PyUnicode_Check(o)) {
            const char* data;
            std::size_t size;
            text_of(o, data, size);
            if (!data) return std::nullopt;
            bool fresh;
            const std::int32_t code = by_text.find_or_insert(std::string_view(data, size), static_cast<std::int32_t>(firsts.size()), fresh);
            if (fresh) new_label(o);
            return code;
        }
        if (o == Py_None || (PyFloat_Check(o) && std::isnan(PyFloat_AS_DOUBLE(o)))) return -1;
        return std::nullopt;
    };
    // Past this many rows looked up a block at a time (with more labels than the cache has
    // slots), the rows per label are counted from the codes at the end instead of by the
    // cache: each such row evicted a slot and added its rows to the count of a label at
    // random (1e7 rows of 1.25e6 lead ids: 29% of the time).
    constexpr std::size_t count_later_after = std::size_t{1} << 16;
    std::size_t missed = 0;
    bool count_later = false;
    // Enters object o with its code in the cache, counting this row there (unless counting
    // later).
    const auto remember = [slot_key, slot_code, slot_rows, &flush, &entered, &count_later](
                              PyObject* o, std::int32_t code) __attribute__((always_inline)) {
        const std::size_t slot = cache_slot(o);
        entered += slot_key[slot] != o;
        if (count_later) {
            slot_key[slot] = o;
            slot_code[slot] = code;
            return;
        }
        if (slot_key[slot]) flush(slot);
        slot_key[slot] = o;
        slot_code[slot] = code;
        slot_rows[slot] = 1;  // this row, in way 0
    };
    // Encodes rows [from, n) into codes of type T; returns the row where a code did not fit in
    // T (n when all did), or nullopt for an object that is neither str nor missing.
    const auto encode = [&](auto* codes, std::size_t from) -> std::optional<std::size_t> {
        using T = std::remove_pointer_t<decltype(codes)>;
        // Locals rather than captures: a store of an int8 code may alias anything, and the
        // loops below would reload every captured value after each one.
        const char* const rows = base;
        const py::ssize_t step = stride;
        const std::size_t count = n;
        PyObject** const keys = slot_key;
        std::int32_t* const key_code = slot_code;
        std::int64_t* const key_rows = slot_rows;
        const auto row = [rows, step](std::size_t i) { return *reinterpret_cast<PyObject* const*>(rows + static_cast<py::ssize_t>(i) * step); };
        for (std::size_t i = from;;) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
            if (vector_rows && entered <= 16 && count - i >= 64) {
                PyObject* objects[16];
                std::int32_t code_of[16];
                std::size_t slot_of[16], k = 0;
                for (std::size_t slot = 0; slot < string_cache_slots; ++slot)
                    if (keys[slot] && k < 16) {
                        objects[k] = keys[slot];
                        code_of[k] = key_code[slot];
                        slot_of[k++] = slot;
                    }
                if (k > 0)
                    i = encode_known_avx512(reinterpret_cast<PyObject* const*>(rows), i, count, objects, code_of, slot_of, k,
                                            key_rows, codes);
            }
#endif
            i = encode_cached(rows, step, i, count, keys, key_code, key_rows, codes);
            // Rows the cache does not know, here until one it knows. While the labels are few
            // (their table stays in cache), one row at a time, the objects fetched some rows
            // ahead (where each row is an object of its own, the rows stay here).
            for (; i < count && firsts.size() <= string_cache_slots; ++i) {
                PyObject* o = row(i);
                if (keys[cache_slot(o)] == o) break;
                if (i + 8 < count) __builtin_prefetch(row(i + 8));
                const auto code = one_row(o);
                if (!code) return std::nullopt;
                if (*code > std::numeric_limits<T>::max()) return i;  // the caller widens and resumes here
                remember(o, *code);
                codes[i] = static_cast<T>(*code);
            }
            // With many labels, a block at a time: a block's texts are read and hashed and their
            // table slots asked for before any is looked up, and the next block's objects asked
            // for meanwhile, so that the rows' waits on memory overlap. (A column of many
            // distinct labels, such as lead ids, misses the cache on most rows; one row at a
            // time, each waited for its object, then for its slot: 1e7 rows of 1.25e6 ids took
            // 1.6-1.8 s.) Rows other than ASCII strings take one_row.
            while (i < count && firsts.size() > string_cache_slots) {
                constexpr std::size_t block = 16;
                PyObject* objs[block];
                std::string_view texts[block];
                text_codes::probe probes[block];
                std::size_t k = 0;
                for (; k < block && i + k < count; ++k) {
                    PyObject* o = row(i + k);
                    if (keys[cache_slot(o)] == o) break;
                    objs[k] = o;
                }
                if (k == 0) break;  // a row the cache knows: back to encode_cached
                for (std::size_t j = i + k; j < std::min(count, i + k + block); ++j) {
                    const char* next = reinterpret_cast<const char*>(row(j));
                    __builtin_prefetch(next);
                    __builtin_prefetch(next + 64);  // the text, past a header of 40 or 48 bytes
                }
                std::size_t ready = 0;  // rows of the block that are ASCII strings, in a row
                for (; ready < k; ++ready) {
                    const char* data;
                    std::size_t size;
                    ascii_text(objs[ready], data, size);
                    if (!data) break;
                    texts[ready] = std::string_view(data, size);
                    probes[ready] = text_codes::probe_of(texts[ready]);
                    by_text.prefetch(probes[ready]);
                }
                for (std::size_t j = 0; j < ready; ++j) {
                    bool fresh;
                    const std::int32_t code = by_text.find_or_insert(texts[j], probes[j], static_cast<std::int32_t>(firsts.size()), fresh);
                    if (fresh) new_label(objs[j]);
                    if (code > std::numeric_limits<T>::max()) return i + j;  // the caller widens and resumes here
                    remember(objs[j], code);
                    codes[i + j] = static_cast<T>(code);
                }
                i += ready;
                missed += ready;
                count_later = count_later || (missed > count_later_after && firsts.size() > string_cache_slots);
                if (ready < k) {
                    const auto code = one_row(objs[ready]);
                    if (!code) return std::nullopt;
                    if (*code > std::numeric_limits<T>::max()) return i;
                    remember(objs[ready], *code);
                    codes[i] = static_cast<T>(*code);
                    ++i;
                }
            }
            if (i == count) return count;
        }
    };
    // int8 while the known labels leave room, else int32 from the start.
    py::array result;
    std::optional<std::size_t> stop = 0;
    if (firsts.size() <= 128) {
        result = py::array_t<std::int8_t>(static_cast<py::ssize_t>(n));  // written once, not zeroed first
        stop = encode(static_cast<std::int8_t*>(result.mutable_data()), 0);
        if (!stop) return py::none();
    }
    if (*stop < n) {
        py::array_t<std::int32_t> wide(static_cast<py::ssize_t>(n));
        if (result) {
            const auto* narrow = static_cast<const std::int8_t*>(result.data());
            std::copy(narrow, narrow + *stop, wide.mutable_data());
        }
        result = wide;
        stop = encode(wide.mutable_data(), *stop);
        if (!stop) return py::none();
    }
    if (count_later) {
        // Every row's code counted once (codes -1..labels-1; counts[0] holds the missing rows).
        std::fill(counts.begin(), counts.end(), 0);
        const auto tally = [&](const auto* c) {
            for (std::size_t i = 0; i < n; ++i) {
                funnelkit::detail::prefetch_column(i, n, c);
                ++counts[static_cast<std::size_t>(static_cast<std::int64_t>(c[i]) + 1)];
            }
        };
        if (result.itemsize() == 1)
            tally(static_cast<const std::int8_t*>(result.data()));
        else
            tally(static_cast<const std::int32_t*>(result.data()));
    } else {
        for (std::size_t slot = 0; slot < string_cache_slots; ++slot)
            if (cache_key[slot]) flush(slot);
    }
    py::list uniques(firsts.size());
    for (std::size_t j = 0; j < firsts.size(); ++j)
        uniques[j] = py::reinterpret_borrow<py::object>(firsts[j]);
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

/// Calls f(row, code) for every row's code (code_of), with a loop of its own for offset 0 (the
/// usual case: -1 <= value < categories is one unsigned comparison, value + 1 as uint64 never
/// wraps into range).
template <class T, class F>
[[gnu::always_inline]] inline void for_each_code(const T* c, std::size_t n, std::int64_t offset, std::size_t categories,
                                                 F&& f) {
    // Codes of 4 bytes and more are read ahead (1e7 int32 codes counted in 9 ms instead of
    // 17); one-byte codes measured faster without it.
    constexpr bool prefetch = sizeof(T) >= 4;
    if (offset == 0) {
        for (std::size_t i = 0; i < n; ++i) {
            if constexpr (prefetch) funnelkit::detail::prefetch_column(i, n, c);
            const std::uint64_t shifted = static_cast<std::uint64_t>(static_cast<std::int64_t>(c[i])) + 1;
            if (shifted > categories) [[unlikely]]
                bad_code(i, static_cast<std::int64_t>(c[i]), 0, categories);
            f(i, static_cast<std::int64_t>(shifted) - 1);
        }
        return;
    }
    for (std::size_t i = 0; i < n; ++i) {
        if constexpr (prefetch) funnelkit::detail::prefetch_column(i, n, c);
        f(i, code_of(c[i], offset, i, categories));
    }
}

/// One-byte codes with offset 0 (the usual case: codes made from labels, a categorical's own
/// codes), a block at a time: the block's codes are range-checked first (a minimum and maximum
/// the compiler vectorises), then f(begin, end) runs on codes known to lie in -1..categories-1.
/// A bad code is reported at its row before f sees its block.
template <class F>
void for_each_byte_block(const std::int8_t* c, std::size_t n, std::size_t categories, F&& f) {
    constexpr std::size_t block = 4096;
    const std::int64_t top = static_cast<std::int64_t>(std::min<std::size_t>(categories, 128)) - 1;
    for (std::size_t b = 0; b < n; b += block) {
        const std::size_t e = std::min(n, b + block);
        std::int8_t lo = std::numeric_limits<std::int8_t>::max(), hi = std::numeric_limits<std::int8_t>::min();
        for (std::size_t i = b; i < e; ++i) {
            lo = std::min(lo, c[i]);
            hi = std::max(hi, c[i]);
        }
        if (lo < -1 || hi > top) [[unlikely]]
            for (std::size_t i = b; i < e; ++i)
                if (c[i] < -1 || c[i] > top) bad_code(i, c[i], 0, categories);
        f(b, e);
    }
}

/// How many rows hold each of `categories` codes, and (last) how many are missing (-1). A row's
/// code is its value minus `offset`.
py::array_t<std::int64_t> code_counts(const py::array& codes, std::size_t categories, std::int64_t offset) {
    std::vector<std::int64_t> counts(categories + 1, 0);  // counts[0]: -1, counts[1 + j]: code j
    with_codes(codes, [&](const auto* c, std::size_t n) {
        using T = std::remove_const_t<std::remove_pointer_t<decltype(c)>>;
        if constexpr (std::is_same_v<T, std::int8_t>) {
            if (offset == 0) {
                // Four interleaved tallies indexed by the byte itself, with no check per row (1e7
                // codes: 6 ms with a check and an index computed per row).
                std::vector<std::int64_t> part(4 * 256, 0);
                for_each_byte_block(c, n, categories, [&](std::size_t b, std::size_t e) {
                    std::size_t i = b;
                    for (; i + 4 <= e; i += 4)
                        for (std::size_t k = 0; k < 4; ++k) ++part[k * 256 + static_cast<std::uint8_t>(c[i + k])];
                    for (; i < e; ++i) ++part[static_cast<std::uint8_t>(c[i])];
                });
                for (std::size_t k = 0; k < 4; ++k)
                    for (std::size_t j = 0; j <= std::min<std::size_t>(categories, 128); ++j)
                        counts[j] += part[k * 256 + static_cast<std::uint8_t>(static_cast<std::int8_t>(j - 1))];
                return;
            }
        }
        // Four interleaved tallies when they are small, so that rows of the same code in a row
        // do not wait on one another's increments.
        const std::size_t width = categories + 1, ways = width <= 4096 ? 4 : 1;
        std::vector<std::int64_t> part(ways * width, 0);
        std::int64_t* k = part.data() + 1;
        for_each_code(c, n, offset, categories,
                      [&](std::size_t i, std::int64_t code) { ++k[(i & (ways - 1)) * width + static_cast<std::size_t>(code)]; });
        for (std::size_t w = 0; w < ways; ++w)
            for (std::size_t j = 0; j < width; ++j) counts[j] += part[w * width + j];
    });
    std::vector<std::int64_t> out(counts.begin() + 1, counts.end());
    out.push_back(counts[0]);
    return to_numpy(std::move(out));
}

/// Rows per value 0..limit-1 of signed integers, or None as soon as a value lies outside that
/// range: one pass for the usual integer segment or stage column, where finding its least and
/// greatest values first took two more (1e7 int32 values: 9 against 4 ms).
py::object small_value_counts(const py::array& values, std::size_t limit) {
    std::vector<std::int64_t> part(4 * limit, 0);
    const bool fits = with_codes(values, [&](const auto* c, std::size_t n) {
        std::size_t i = 0;
        for (; i + 4 <= n; i += 4)
            for (std::size_t k = 0; k < 4; ++k) {
                const auto v = static_cast<std::uint64_t>(static_cast<std::int64_t>(c[i + k]));
                if (v >= limit) [[unlikely]] return false;
                ++part[k * limit + v];
            }
        for (; i < n; ++i) {
            const auto v = static_cast<std::uint64_t>(static_cast<std::int64_t>(c[i]));
            if (v >= limit) return false;
            ++part[v];
        }
        return true;
    });
    if (!fits) return py::none();
    std::vector<std::int64_t> counts(limit, 0);
    for (std::size_t k = 0; k < 4; ++k)
        for (std::size_t v = 0; v < limit; ++v) counts[v] += part[k * limit + v];
    return to_numpy(std::move(counts));
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FUNNELKIT_BYTE_SHUFFLE 1
/// out[i] = table[c[i] + 1] for one-byte codes known to lie in -1..14: a byte shuffle maps 16
/// codes at once (SSSE3, which every x86-64 processor since 2006 has; checked at run time).
[[gnu::target("ssse3")]] void shuffle_bytes(const std::int8_t* c, std::size_t n, const std::int8_t* table,
                                              std::int8_t* out) {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(table));
    const __m128i one = _mm_set1_epi8(1);
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + i));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_shuffle_epi8(t, _mm_add_epi8(v, one)));
    }
    for (; i < n; ++i) out[i] = table[c[i] + 1];
}
#endif

/// mapping[code] for every row as int32, mapping[categories] for a missing value (-1), where
/// mapping holds categories + 1 entries and a row's code is its value minus `offset`.
/// With in_place, `codes` (int32, writeable) is overwritten and returned.
// mapping[code] per row, as int32 or, with `narrow`, as int8 (every mapped value must fit).
py::array remap_codes(const py::array& codes, const array<std::int32_t>& mapping, std::int64_t offset, bool in_place,
                      bool narrow) {
    const auto map = column(mapping, "mapping");
    if (map.empty()) throw funnelkit::invalid_argument("the mapping of label codes is empty");
    const std::size_t categories = map.size() - 1;
    if (in_place && (codes.dtype().kind() != 'i' || codes.dtype().itemsize() != (narrow ? 1 : 4) || !codes.writeable()))
        throw funnelkit::invalid_argument("remapping in place needs writeable codes of the output's width (int32, int8 with narrow)");
    if (narrow)
        for (const std::int32_t v : map)
            if (v < INT8_MIN || v > INT8_MAX)
                throw funnelkit::invalid_argument("mapped code " + std::to_string(v) + " does not fit in int8");
    return with_codes(codes, [&](const auto* c, std::size_t n) {
        using T = std::remove_const_t<std::remove_pointer_t<decltype(c)>>;
        const auto fill = [&](auto* out) {
            using Out = std::remove_pointer_t<decltype(out)>;
            if constexpr (std::is_same_v<T, std::int8_t>) {
                if (offset == 0) {
                    // One-byte codes: a block is checked, then mapped through a table indexed by
                    // the byte itself (by a byte shuffle for up to 15 categories into one-byte codes).
                    std::array<Out, 256> lut{};
                    lut[255] = static_cast<Out>(map[categories]);
                    for (std::size_t k = 0; k < std::min<std::size_t>(categories, 128); ++k) lut[k] = static_cast<Out>(map[k]);
#ifdef FUNNELKIT_BYTE_SHUFFLE
                    if constexpr (std::is_same_v<Out, std::int8_t>) {
                        if (categories <= 15 && __builtin_cpu_supports("ssse3")) {
                            std::array<std::int8_t, 16> table{};
                            table[0] = lut[255];
                            for (std::size_t k = 0; k < categories; ++k) table[k + 1] = lut[k];
                            for_each_byte_block(c, n, categories, [&](std::size_t b, std::size_t e) {
                                shuffle_bytes(c + b, e - b, table.data(), out + b);
                            });
                            return;
                        }
                    }
#endif
                    for_each_byte_block(c, n, categories, [&](std::size_t b, std::size_t e) {
                        for (std::size_t i = b; i < e; ++i) out[i] = lut[static_cast<std::uint8_t>(c[i])];
                    });
                    return;
                }
            }
            // lut[code + 1]: the missing value's entry first, then the codes'.
            std::vector<Out> lut(categories + 1);
            lut[0] = static_cast<Out>(map[categories]);
            for (std::size_t k = 0; k < categories; ++k) lut[k + 1] = static_cast<Out>(map[k]);
            const Out* l = lut.data() + 1;
            for_each_code(c, n, offset, categories, [&](std::size_t i, std::int64_t code) { out[i] = l[code]; });
        };
        if (narrow) {
            py::array result = in_place ? codes : py::array_t<std::int8_t>(static_cast<py::ssize_t>(n));  // not zeroed first
            fill(static_cast<std::int8_t*>(result.mutable_data()));
            return result;
        }
        py::array result = in_place ? codes : py::array_t<std::int32_t>(static_cast<py::ssize_t>(n));
        fill(static_cast<std::int32_t*>(result.mutable_data()));
        return result;
    });
}

}  // namespace

void register_labels(py::module_& m) {
    m.def("encode_strings", &encode_strings, py::arg("values"), py::arg("known") = py::none(),
          "(codes int8 for up to 128 distinct strings, else int32; distinct strings; rows per code then missing rows) "
          "of an object array of str "
          "(None/NaN: -1), the `known` strings first (codes 0.., present or not), the others in order of first "
          "appearance; None when it holds other objects.");
    m.def("code_counts", &code_counts, py::arg("codes"), py::arg("categories"), py::arg("offset") = 0,
          "Rows per label code 0..categories-1, then the rows with -1 (missing); code = value - offset.");
    m.def("small_value_counts", &small_value_counts, py::arg("values"), py::arg("limit"),
          "Rows per value 0..limit-1 of a signed integer array, or None when a value lies outside that range.");
    m.def("remap_codes", &remap_codes, py::arg("codes"), py::arg("mapping"), py::arg("offset") = 0,
          py::arg("in_place") = false, py::arg("narrow") = false,
          "mapping[code] per row (int32, or int8 with narrow); mapping[-1] (its last entry) for code -1; "
          "code = value - offset. in_place overwrites the codes (int32, or int8 with narrow).");
}

}  // namespace funnelkit::python
