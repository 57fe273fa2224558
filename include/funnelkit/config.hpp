// funnelkit: version and namespace configuration.
#pragma once

#define FUNNELKIT_VERSION_MAJOR 0
#define FUNNELKIT_VERSION_MINOR 1
#define FUNNELKIT_VERSION_PATCH 0
#define FUNNELKIT_VERSION_STRING "0.1.0"

// Every public symbol lives in funnelkit::v0. The inline namespace keeps user code spelling
// funnelkit::name while letting a future ABI break change the mangled names.
#define FUNNELKIT_BEGIN_NAMESPACE namespace funnelkit { inline namespace v0 {
#define FUNNELKIT_END_NAMESPACE } }

FUNNELKIT_BEGIN_NAMESPACE
/// The library version, "major.minor.patch".
inline constexpr const char* version = FUNNELKIT_VERSION_STRING;
FUNNELKIT_END_NAMESPACE
