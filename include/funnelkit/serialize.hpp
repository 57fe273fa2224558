// funnelkit: the byte format shared by every serialisable aggregate state.
//
// Layout of a blob: 4-byte magic naming the state type, a little-endian uint16 format
// version, then the state's fields, every integer and double little-endian, every vector
// preceded by its uint64 length, every string valid UTF-8; from format version 2 on, a
// little-endian uint32 CRC-32C of every byte before it closes the blob. Readers check the
// magic, accept a range of versions in one place, verify the checksum before reading a field,
// check the remaining length before every read and then every invariant of the state, and
// throw funnelkit::invalid_argument on any mismatch: a truncated, corrupted or foreign blob
// never reads out of bounds and never loads as a plausible state. docs/state-format.md
// describes every state's fields and the version history.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "funnelkit/config.hpp"
#include "funnelkit/detail/crc32c.hpp"
#include "funnelkit/detail/utf8.hpp"
#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

/// The first format version whose blobs end with a CRC-32C (the same for every state).
inline constexpr std::uint16_t checksummed_format = 2;

/// Optional small codes (an enum that may be "not recorded") travel as one byte, 255 = none.
inline constexpr std::uint8_t code_not_recorded = 0xFF;

template <class T>
concept wire_scalar = std::is_integral_v<T> || std::is_same_v<T, double>;

/// The format version of a blob (the uint16 after its magic), 0 when it is too short.
inline std::uint16_t blob_version(const void* data, std::size_t size) noexcept {
    if (data == nullptr || size < 6) return 0;
    const auto* p = static_cast<const unsigned char*>(data);
    return static_cast<std::uint16_t>(p[4] | (p[5] << 8));
}

class byte_writer {
public:
    byte_writer(std::string_view magic, std::uint16_t version) : version_(version) {
        for (std::size_t i = 0; i < 4; ++i) out_.push_back(static_cast<std::byte>(magic[i]));
        put(version);
    }

    template <wire_scalar T>
    void put(T v) {
        using U = std::conditional_t<sizeof(T) == 8, std::uint64_t,
                  std::conditional_t<sizeof(T) == 4, std::uint32_t,
                  std::conditional_t<sizeof(T) == 2, std::uint16_t, std::uint8_t>>>;
        U u;
        std::memcpy(&u, &v, sizeof(T));
        for (std::size_t i = 0; i < sizeof(T); ++i) out_.push_back(static_cast<std::byte>((u >> (8 * i)) & 0xffu));
    }

    template <wire_scalar T>
    void put(const std::vector<T>& v) {
        put(static_cast<std::uint64_t>(v.size()));
        for (const T& x : v) put(x);
    }

    void put(std::string_view s) {
        put(static_cast<std::uint64_t>(s.size()));
        for (char c : s) out_.push_back(static_cast<std::byte>(c));
    }

    /// A nested blob (e.g. another state's serialize()), length-prefixed.
    void put_blob(const std::vector<std::byte>& blob) {
        put(static_cast<std::uint64_t>(blob.size()));
        out_.insert(out_.end(), blob.begin(), blob.end());
    }

    /// An optional small code: its value, or code_not_recorded.
    void put_code(std::optional<std::uint8_t> code) { put(code ? *code : code_not_recorded); }

    /// The blob; from checksummed_format on, with the CRC-32C of all bytes appended.
    std::vector<std::byte> finish() && {
        if (version_ >= checksummed_format) put(crc32c(out_.data(), out_.size()));
        return std::move(out_);
    }

private:
    std::uint16_t version_;
    std::vector<std::byte> out_;
};

class byte_reader {
public:
    /// Checks the magic and returns a reader positioned after the version; the version is
    /// available through version(). `what` names the state type in error messages.
    byte_reader(const void* data, std::size_t size, std::string_view magic, std::string_view what)
        : p_(static_cast<const unsigned char*>(data)), size_(size), what_(what) {
        if (size_ > 0 && p_ == nullptr) fail("null data pointer");
        need(4);
        if (std::memcmp(p_, magic.data(), 4) != 0) fail("wrong magic number: not a serialised " + std::string(what));
        pos_ = 4;
        version_ = get<std::uint16_t>();
    }

    std::uint16_t version() const noexcept { return version_; }

    /// The one version check of a reader: accepts oldest..newest and fails naming the range
    /// otherwise. From checksummed_format on it verifies the closing CRC-32C over every byte
    /// before it, then hides those four bytes from the reads that follow.
    std::uint16_t accept_versions(std::uint16_t oldest, std::uint16_t newest) {
        if (version_ < oldest || version_ > newest)
            fail("format version " + std::to_string(version_) + " is not supported (this build reads versions " +
                 std::to_string(oldest) + " to " + std::to_string(newest) + ")");
        if (version_ >= checksummed_format) {
            if (size_ - pos_ < 4) fail("truncated: " + std::to_string(size_) + " bytes leave no room for the checksum");
            std::uint32_t stored = 0;
            for (std::size_t i = 0; i < 4; ++i) stored |= static_cast<std::uint32_t>(p_[size_ - 4 + i]) << (8 * i);
            const std::uint32_t computed = crc32c(p_, size_ - 4);
            if (stored != computed)
                fail("checksum mismatch (stored " + hex32(stored) + ", computed " + hex32(computed) +
                     "): the bytes are corrupted");
            size_ -= 4;
        }
        return version_;
    }

    template <wire_scalar T>
    T get() {
        need(sizeof(T));
        using U = std::conditional_t<sizeof(T) == 8, std::uint64_t,
                  std::conditional_t<sizeof(T) == 4, std::uint32_t,
                  std::conditional_t<sizeof(T) == 2, std::uint16_t, std::uint8_t>>>;
        U u = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i) u |= static_cast<U>(static_cast<U>(p_[pos_ + i]) << (8 * i));
        pos_ += sizeof(T);
        T v;
        std::memcpy(&v, &u, sizeof(T));
        return v;
    }

    template <wire_scalar T>
    std::vector<T> get_vector() {
        const auto n = get<std::uint64_t>();
        if (n > (size_ - pos_) / sizeof(T)) fail("vector length " + std::to_string(n) + " exceeds the blob");
        std::vector<T> v(static_cast<std::size_t>(n));
        for (auto& x : v) x = get<T>();
        return v;
    }

    /// A length-prefixed string, which must be valid UTF-8.
    std::string get_string() {
        const auto n = get<std::uint64_t>();
        if (n > size_ - pos_) fail("string length " + std::to_string(n) + " exceeds the blob");
        std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<std::size_t>(n));
        if (const std::size_t bad = utf8_error_offset(s); bad != s.size())
            fail("string at byte " + std::to_string(pos_) + " is not valid UTF-8 (at its byte " + std::to_string(bad) + ")");
        pos_ += static_cast<std::size_t>(n);
        return s;
    }

    /// An optional code written by put_code: nullopt for code_not_recorded, else 0..max.
    std::optional<std::uint8_t> get_code(std::uint8_t max, std::string_view field) {
        const auto c = get<std::uint8_t>();
        if (c == code_not_recorded) return std::nullopt;
        if (c > max) fail(std::string(field) + " code " + std::to_string(c) + " is not 0.." + std::to_string(max));
        return c;
    }

    /// A nested blob written by put_blob: returns (pointer, size) into the input.
    std::pair<const void*, std::size_t> get_blob() {
        const auto n = get<std::uint64_t>();
        if (n > size_ - pos_) fail("nested blob length " + std::to_string(n) + " exceeds the blob");
        const void* p = p_ + pos_;
        pos_ += static_cast<std::size_t>(n);
        return {p, static_cast<std::size_t>(n)};
    }

    /// Throws unless every byte was consumed.
    void finish() const {
        if (pos_ != size_) fail(std::to_string(size_ - pos_) + " trailing bytes");
    }

    [[noreturn]] void fail(const std::string& why) const {
        throw invalid_argument("cannot deserialise " + std::string(what_) + ": " + why);
    }

private:
    static std::string hex32(std::uint32_t v) {
        static constexpr char digits[] = "0123456789abcdef";
        std::string s = "0x";
        for (int shift = 28; shift >= 0; shift -= 4) s.push_back(digits[(v >> shift) & 0xFu]);
        return s;
    }

    void need(std::size_t n) const {
        if (n > size_ - pos_)
            fail("truncated at byte " + std::to_string(pos_) + " of " + std::to_string(size_));
    }

    const unsigned char* p_;
    std::size_t size_;
    std::size_t pos_ = 0;
    std::uint16_t version_ = 0;
    std::string_view what_;
};

}  // namespace detail
FUNNELKIT_END_NAMESPACE
