// A consumer of the funnelkit package: computes conversion on the sample data set and checks
// invariants that hold for any seed. Exit code 0 on success.
#include <funnelkit/funnelkit.hpp>

#include <cstdio>

#if defined(FUNNELKIT_CONSUMER_EXPECTS_HEADER_ONLY) && !defined(FUNNELKIT_HEADER_ONLY)
#error "funnelkit::header_only must define FUNNELKIT_HEADER_ONLY"
#endif
#ifdef FUNNELKIT_HEADER_ONLY
constexpr const char* mode = "header-only";
#else
constexpr const char* mode = "compiled library";
#endif

int main() {
    const auto model = funnelkit::sample_model();
    const auto data = funnelkit::generate_sample({.leads = 2000, .seed = 7});
    const auto counts = funnelkit::conversion(model, data.records());
    const bool ok = counts.entities() == 2000 && counts.reached(0) == 2000 &&
                    counts.reached(5) > 0 && counts.reached(5) < counts.reached(4);
    std::printf("funnelkit %s (%s): %lld leads, %lld customers: %s\n", funnelkit::version, mode,
                static_cast<long long>(counts.reached(0)), static_cast<long long>(counts.reached(5)),
                ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
