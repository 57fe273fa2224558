// funnelkit: version and namespace configuration.
#pragma once

// The one place the version is written. CMakeLists.txt and pyproject.toml (through
// scikit-build-core's regex provider) read these three lines; keep their form.
#define FUNNELKIT_VERSION_MAJOR 0
#define FUNNELKIT_VERSION_MINOR 1
#define FUNNELKIT_VERSION_PATCH 0

#define FUNNELKIT_DETAIL_STRINGIZE_(x) #x
#define FUNNELKIT_DETAIL_STRINGIZE(x) FUNNELKIT_DETAIL_STRINGIZE_(x)
/// "major.minor.patch"
#define FUNNELKIT_VERSION_STRING                                                \
    FUNNELKIT_DETAIL_STRINGIZE(FUNNELKIT_VERSION_MAJOR) "."                     \
    FUNNELKIT_DETAIL_STRINGIZE(FUNNELKIT_VERSION_MINOR) "."                     \
    FUNNELKIT_DETAIL_STRINGIZE(FUNNELKIT_VERSION_PATCH)

// Two ways to use the library, as with fmt: link the compiled library funnelkit::funnelkit
// (definitions compiled once from impl/*.ipp by src/*.cpp), or define FUNNELKIT_HEADER_ONLY
// (target funnelkit::header_only) and each public header includes its impl/*.ipp, whose
// definitions FUNNELKIT_INLINE then makes inline. Every translation unit of a program must
// agree on the mode.
#ifdef FUNNELKIT_HEADER_ONLY
#define FUNNELKIT_INLINE inline
#else
#define FUNNELKIT_INLINE
#endif

// Every public symbol lives in funnelkit::v0. The inline namespace keeps user code spelling
// funnelkit::name while letting a future ABI break change the mangled names.
#define FUNNELKIT_BEGIN_NAMESPACE namespace funnelkit { inline namespace v0 {
#define FUNNELKIT_END_NAMESPACE } }

FUNNELKIT_BEGIN_NAMESPACE
/// The library version, "major.minor.patch".
inline constexpr const char* version = FUNNELKIT_VERSION_STRING;
FUNNELKIT_END_NAMESPACE
