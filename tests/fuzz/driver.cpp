// A small deterministic fuzzing driver for compilers without libFuzzer: main() runs
// LLVMFuzzerTestOneInput on every file of the corpus directories given, then on mutants of
// them (bit flips, byte changes, interesting integers, inserted, erased, duplicated and spliced
// ranges) drawn from a fixed-seed generator, until the time or run budget is spent. It accepts
// the libFuzzer flags scripts/fuzz.sh passes (-max_total_time=, -runs=, -seed=, -max_len=,
// -artifact_prefix=; others are ignored) and prints the same final statistics line, so both
// engines are run and reported alike. A crash (sanitizer report, abort, uncaught exception)
// first writes the input to <artifact_prefix>crash-<hash>.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#if defined(__has_include)
#if __has_include(<sanitizer/common_interface_defs.h>)
#include <sanitizer/common_interface_defs.h>
#define FUNNELKIT_FUZZ_HAVE_SANITIZER_HOOK 1
#endif
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::uint8_t> current;  // the input being run, written out when it crashes
std::string artifact_prefix = "./";

void write_current() {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (auto b : current) h = (h ^ b) * 0x100000001b3ULL;
    char name[32];
    std::snprintf(name, sizeof name, "crash-%016llx", static_cast<unsigned long long>(h));
    const std::string path = artifact_prefix + name;
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(current.data()),
                                                static_cast<std::streamsize>(current.size()));
    std::fprintf(stderr, "driver: crashing input (%zu bytes) written to %s\n", current.size(), path.c_str());
}

void on_signal(int sig) {
    write_current();
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

// splitmix64: the mutation stream is a function of the seed alone.
struct generator {
    std::uint64_t s;
    std::uint64_t next() {
        std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
};

void mutate(std::vector<std::uint8_t>& v, generator& g, const std::vector<std::vector<std::uint8_t>>& pool, std::size_t max_len) {
    static constexpr std::int64_t interesting[] = {0, 1, -1, 2, 64, 65, 127, 128, 255, 256, 32767, -32768, 65535,
                                                   2147483647, -2147483647 - 1, 9223372036854775807LL,
                                                   -9223372036854775807LL - 1};
    const int steps = 1 + static_cast<int>(g.below(6));
    for (int k = 0; k < steps; ++k) {
        switch (g.below(v.empty() ? 3 : 9)) {
            case 0: {  // insert random bytes
                const std::size_t at = g.below(v.size() + 1), n = 1 + g.below(8);
                for (std::size_t i = 0; i < n; ++i) v.insert(v.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::uint8_t>(g.next()));
                break;
            }
            case 1: {  // splice a range of another input
                const auto& o = pool[g.below(pool.size())];
                if (o.empty()) break;
                const std::size_t from = g.below(o.size()), n = 1 + g.below(std::min<std::size_t>(o.size() - from, 64));
                const std::size_t at = g.below(v.size() + 1);
                v.insert(v.begin() + static_cast<std::ptrdiff_t>(at), o.begin() + static_cast<std::ptrdiff_t>(from),
                         o.begin() + static_cast<std::ptrdiff_t>(from + n));
                break;
            }
            case 2: {  // an interesting integer, little-endian, 1 to 8 bytes
                const std::int64_t x = interesting[g.below(std::size(interesting))];
                const std::size_t width = std::size_t{1} << g.below(4), at = g.below(v.size() + 1);
                for (std::size_t i = 0; i < width; ++i) {
                    const auto b = static_cast<std::uint8_t>(static_cast<std::uint64_t>(x) >> (8 * i));
                    if (at + i < v.size()) v[at + i] = b;
                    else v.push_back(b);
                }
                break;
            }
            case 3: v[g.below(v.size())] ^= static_cast<std::uint8_t>(1u << g.below(8)); break;  // flip a bit
            case 4: v[g.below(v.size())] = static_cast<std::uint8_t>(g.next()); break;           // set a byte
            case 5: v[g.below(v.size())] += static_cast<std::uint8_t>(1 + g.below(3)); break;   // nudge a byte
            case 6: {  // erase a range
                const std::size_t at = g.below(v.size()), n = 1 + g.below(std::min<std::size_t>(v.size() - at, 16));
                v.erase(v.begin() + static_cast<std::ptrdiff_t>(at), v.begin() + static_cast<std::ptrdiff_t>(at + n));
                break;
            }
            case 7: {  // duplicate a range
                const std::size_t at = g.below(v.size()), n = 1 + g.below(std::min<std::size_t>(v.size() - at, 32));
                std::vector<std::uint8_t> copy(v.begin() + static_cast<std::ptrdiff_t>(at), v.begin() + static_cast<std::ptrdiff_t>(at + n));
                v.insert(v.begin() + static_cast<std::ptrdiff_t>(g.below(v.size() + 1)), copy.begin(), copy.end());
                break;
            }
            default: {  // swap two bytes
                std::swap(v[g.below(v.size())], v[g.below(v.size())]);
                break;
            }
        }
    }
    if (v.size() > max_len) v.resize(max_len);
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 10;
    long long runs = -1;
    std::uint64_t seed = 1;
    std::size_t max_len = 4096;
    std::vector<std::string> dirs;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&](const char* flag) { return a.rfind(flag, 0) == 0 ? a.substr(std::strlen(flag)) : std::string(); };
        if (auto v = value("-max_total_time="); !v.empty()) seconds = std::stod(v);
        else if (auto r = value("-runs="); !r.empty()) runs = std::stoll(r);
        else if (auto s = value("-seed="); !s.empty()) seed = std::stoull(s);
        else if (auto m = value("-max_len="); !m.empty()) max_len = std::stoul(m);
        else if (auto p = value("-artifact_prefix="); !p.empty()) artifact_prefix = p;
        else if (a.rfind("-", 0) != 0) dirs.push_back(a);
    }
    std::signal(SIGABRT, on_signal);
    std::signal(SIGSEGV, on_signal);
    std::signal(SIGFPE, on_signal);
    std::set_terminate([] {
        write_current();
        std::abort();
    });
#ifdef FUNNELKIT_FUZZ_HAVE_SANITIZER_HOOK
    __sanitizer_set_death_callback(write_current);
#endif
    std::vector<std::vector<std::uint8_t>> pool;
    for (const auto& d : dirs) {
        if (!std::filesystem::is_directory(d)) continue;
        std::vector<std::filesystem::path> files;
        for (const auto& e : std::filesystem::directory_iterator(d))
            if (e.is_regular_file()) files.push_back(e.path());
        std::sort(files.begin(), files.end());  // a fixed order: the run is reproducible
        for (const auto& f : files) pool.push_back(read_file(f));
    }
    if (pool.empty()) pool.emplace_back();
    long long executed = 0;
    for (const auto& input : pool) {
        current = input;
        LLVMFuzzerTestOneInput(current.data(), current.size());
        ++executed;
    }
    generator g{seed};
    const auto start = std::chrono::steady_clock::now();
    const std::size_t seeds = pool.size();
    while ((runs < 0 || executed < runs) &&
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
        current = pool[g.below(pool.size())];
        mutate(current, g, pool, max_len);
        LLVMFuzzerTestOneInput(current.data(), current.size());
        ++executed;
        // Keep a bounded, rotating set of mutants to build on, besides the seeds.
        if (g.below(16) == 0) {
            if (pool.size() < seeds + 256) pool.push_back(current);
            else pool[seeds + g.below(256)] = current;
        }
    }
    std::printf("stat::number_of_executed_units: %lld\n", executed);
    std::printf("driver: %zu seed inputs, %.0f s, seed %llu, no crash\n", seeds,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                static_cast<unsigned long long>(seed));
    return 0;
}
