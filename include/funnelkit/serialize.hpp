// funnelkit: the byte format shared by every serialisable aggregate state.
//
// Layout of a blob: 4-byte magic naming the state type, a little-endian uint16 format
// version, then the state's fields, every integer and double little-endian, every vector
// preceded by its uint64 length. Readers check the magic, the version and the remaining length
// before every read, and throw funnelkit::invalid_argument on any mismatch: a truncated or
// foreign blob never reads out of bounds.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "funnelkit/config.hpp"
#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

template <class T>
concept wire_scalar = std::is_integral_v<T> || std::is_same_v<T, double>;

class byte_writer {
public:
    byte_writer(std::string_view magic, std::uint16_t version) {
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

    std::vector<std::byte> finish() && { return std::move(out_); }

private:
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

    std::string get_string() {
        const auto n = get<std::uint64_t>();
        if (n > size_ - pos_) fail("string length " + std::to_string(n) + " exceeds the blob");
        std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<std::size_t>(n));
        pos_ += static_cast<std::size_t>(n);
        return s;
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
