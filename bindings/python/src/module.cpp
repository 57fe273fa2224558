// The extension module funnelkit._core: calls every registered binder.
#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/config.hpp"

namespace funnelkit::python {
namespace {
struct entry {
    std::string name;
    int order;
    binder fn;
};
std::vector<entry>& registry() {
    static std::vector<entry> r;
    return r;
}
}  // namespace

registration::registration(const char* name, int order, binder fn) { registry().push_back({name, order, fn}); }

}  // namespace funnelkit::python

PYBIND11_MODULE(_core, m) {
    using namespace funnelkit::python;
    m.doc() = "funnelkit's compiled core. Use the public API of the funnelkit package instead.";
    m.attr("__version__") = funnelkit::version;
    auto entries = registry();
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return std::tie(a.order, a.name) < std::tie(b.order, b.name); });
    for (const auto& e : entries) e.fn(m);
}
