// funnelkit internals: transparent huge pages for large buffers written in random order.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>

#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

/// Asks for transparent huge pages on the whole 2 MiB pages inside [p, p + bytes), before the
/// first touch; a no-op elsewhere than Linux.
inline void advise_huge_pages([[maybe_unused]] void* p, [[maybe_unused]] std::size_t bytes) noexcept {
#ifdef __linux__
    constexpr std::uintptr_t huge = std::uintptr_t{1} << 21;
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    const std::uintptr_t lo = (addr + huge - 1) & ~(huge - 1);
    const std::uintptr_t hi = (addr + bytes) & ~(huge - 1);
    if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
#endif
}

/// Gives the pages of [p, p + bytes) back to the kernel; they read as zeros if touched again.
/// Only when p and bytes are multiples of the system's page size (on a system with larger
/// pages than the caller's 4 KiB units, the kernel would otherwise round the range out over a
/// neighbour's data); a no-op otherwise, and elsewhere than Linux.
inline void release_pages([[maybe_unused]] void* p, [[maybe_unused]] std::size_t bytes) noexcept {
#ifdef __linux__
    static const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    if (page == 0 || reinterpret_cast<std::uintptr_t>(p) % page != 0 || bytes % page != 0) return;
    madvise(p, bytes, MADV_DONTNEED);
#endif
}

/// A zeroed array of trivial T for scratch written in random order. From 1 MiB on (on Linux)
/// it is mapped from the kernel on a 2 MiB boundary in whole 2 MiB pages, asked for as
/// transparent huge pages before the first touch (the kernel then zeroes and maps one page per
/// 2 MiB instead of 512, and random accesses hit the TLB); below, or elsewhere, calloc.
template <class T>
class huge_array {
    static_assert(std::is_trivially_default_constructible_v<T> && std::is_trivially_destructible_v<T>);

public:
    huge_array() = default;
    /// huge: false maps big arrays on the 2 MiB boundary but leaves the page size to the kernel.
    explicit huge_array(std::size_t count, bool huge_pages = true) {
        const std::size_t bytes = std::max<std::size_t>(1, count * sizeof(T));
#ifdef __linux__
        constexpr std::size_t huge = std::size_t{1} << 21;
        if (bytes >= huge / 2) {
            mapped_ = (bytes + huge - 1) & ~(huge - 1);
            // Map one huge page more, then unmap the ends that are not 2 MiB-aligned.
            void* raw = mmap(nullptr, mapped_ + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (raw == MAP_FAILED) throw std::bad_alloc();
            const auto addr = reinterpret_cast<std::uintptr_t>(raw);
            const std::uintptr_t lo = (addr + huge - 1) & ~(huge - 1);
            if (lo > addr) munmap(raw, lo - addr);
            if (addr + huge > lo) munmap(reinterpret_cast<void*>(lo + mapped_), addr + huge - lo);
            p_ = reinterpret_cast<T*>(lo);
            if (huge_pages) advise_huge_pages(p_, mapped_);
            return;
        }
#endif
        p_ = static_cast<T*>(std::calloc(1, bytes));
        if (!p_) throw std::bad_alloc();
    }
    huge_array(huge_array&& o) noexcept : p_(o.p_), mapped_(o.mapped_) { o.p_ = nullptr; }
    huge_array& operator=(huge_array&& o) noexcept {
        if (this != &o) {
            release();
            p_ = o.p_;
            mapped_ = o.mapped_;
            o.p_ = nullptr;
        }
        return *this;
    }
    huge_array(const huge_array&) = delete;
    huge_array& operator=(const huge_array&) = delete;
    ~huge_array() { release(); }

    T* get() const noexcept { return p_; }
    T& operator[](std::size_t i) const noexcept { return p_[i]; }

private:
    void release() noexcept {
        if (!p_) return;
#ifdef __linux__
        if (mapped_) {
            munmap(p_, mapped_);
            p_ = nullptr;
            return;
        }
#endif
        std::free(p_);
        p_ = nullptr;
    }
    T* p_ = nullptr;
    std::size_t mapped_ = 0;
};

/// Scratch that is reused and only grows: room(n) gives at least n elements (contents lost
/// when it grows). On huge pages when large: a fresh buffer of a few MiB per call measured 6%
/// of a shuffled window funnel on small pages, most of it page faults.
template <class T>
class growing_scratch {
public:
    T* room(std::size_t n) {
        if (n > size_) {
            size_ = std::max(n, size_ + size_ / 2);
            a_ = huge_array<T>(size_);
        }
        return a_.get();
    }

private:
    huge_array<T> a_;
    std::size_t size_ = 0;
};

template <class T>
huge_array<T> make_huge_array(std::size_t count) {
    return huge_array<T>(count);
}

}  // namespace detail
FUNNELKIT_END_NAMESPACE
