// Definitions for funnelkit/model.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/model.hpp"

#include <string>
#include <unordered_map>

#include "funnelkit/detail/entity_index.hpp"
#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::model_impl {

// FNV-1a (64-bit) over a canonical encoding of the model, then the splitmix64 finaliser:
// per stage in code order the name and the owner (each as a little-endian uint32 byte count
// and the bytes) and the kind (one byte), then the recycle target's code as a little-endian
// int32 (-1 for none). 0 is kept for "not recorded" in states, so a hash of 0 becomes 1.
struct fnv1a {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    void byte(std::uint8_t b) noexcept { h = (h ^ b) * 0x100000001b3ULL; }
    void u32(std::uint32_t v) noexcept {
        for (int i = 0; i < 4; ++i) byte(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void text(std::string_view s) noexcept {
        u32(static_cast<std::uint32_t>(s.size()));
        for (char c : s) byte(static_cast<std::uint8_t>(c));
    }
};

inline std::uint64_t model_fingerprint(std::span<const stage> stages, std::optional<std::int32_t> recycle) noexcept {
    fnv1a f;
    for (const stage& s : stages) {
        f.text(s.name);
        f.text(s.owner);
        f.byte(static_cast<std::uint8_t>(s.kind));
    }
    f.u32(static_cast<std::uint32_t>(recycle.value_or(-1)));
    const std::uint64_t x = mix64(f.h);
    return x == 0 ? 1 : x;
}

}  // namespace detail::model_impl

FUNNELKIT_INLINE std::string_view to_string(stage_kind kind) noexcept {
    switch (kind) {
        case stage_kind::step: return "step";
        case stage_kind::won: return "won";
        case stage_kind::lost: return "lost";
        case stage_kind::disqualified: return "disqualified";
    }
    return "step";
}

FUNNELKIT_INLINE stage_kind parse_stage_kind(std::string_view name) {
    for (auto k : {stage_kind::step, stage_kind::won, stage_kind::lost, stage_kind::disqualified})
        if (to_string(k) == name) return k;
    detail::throw_option("kind", "'" + std::string(name) + "'",
                         "is not a stage kind (expected step, won, lost or disqualified)");
}

FUNNELKIT_INLINE stage_model::stage_model(std::vector<stage> stages, const options& opts) : stages_(std::move(stages)) {
    const std::string_view recycle_target = opts.recycle_target;
    if (stages_.empty()) throw invalid_argument("stage model: the stage list is empty");
    if (stages_.size() > max_stages)
        throw invalid_argument("stage model: " + std::to_string(stages_.size()) +
                               " stages, at most " + std::to_string(max_stages) + " allowed");
    std::unordered_map<std::string_view, std::size_t> seen;
    rank_.assign(stages_.size(), -1);
    for (std::size_t i = 0; i < stages_.size(); ++i) {
        const stage& s = stages_[i];
        if (s.name.empty()) detail::throw_at_row("name", i, "''", "is empty: every stage needs a name");
        auto [it, fresh] = seen.emplace(s.name, i);
        if (!fresh)
            detail::throw_at_row("name", i, "'" + s.name + "'",
                                 "repeats the name of stage " + std::to_string(it->second));
        if (s.kind == stage_kind::step || s.kind == stage_kind::won) {
            if (won_)
                detail::throw_at_row("kind", i, "'" + s.name + "'",
                                     "comes after the won stage '" + stages_[static_cast<std::size_t>(*won_)].name +
                                         "': the won stage must be the last ladder stage");
            rank_[i] = static_cast<std::int32_t>(ladder_.size());
            ladder_.push_back(static_cast<std::int32_t>(i));
            if (s.kind == stage_kind::won) won_ = static_cast<std::int32_t>(i);
        }
    }
    if (ladder_.empty())
        throw invalid_argument("stage model: no step or won stage, so the funnel has no ladder");
    if (ladder_.size() > max_ladder)
        throw invalid_argument("stage model: " + std::to_string(ladder_.size()) +
                               " ladder stages, at most 64 allowed");
    if (!recycle_target.empty()) {
        auto code = find(recycle_target);
        if (!code)
            detail::throw_option("recycle_target", "'" + std::string(recycle_target) + "'",
                                 "is not the name of a stage");
        if (stages_[static_cast<std::size_t>(*code)].kind != stage_kind::step)
            detail::throw_option("recycle_target", "'" + std::string(recycle_target) + "'",
                                 "is a terminal stage; recycling must go to a step stage");
        recycle_ = *code;
    }
    fingerprint_ = detail::model_impl::model_fingerprint(stages_, recycle_);
}

FUNNELKIT_INLINE stage_model stage_model::b2b() {
    return stage_model({{"Lead", "marketing", stage_kind::step},
                        {"MQL", "marketing", stage_kind::step},
                        {"SAL", "sales", stage_kind::step},
                        {"SQL", "sales", stage_kind::step},
                        {"Opportunity", "sales", stage_kind::step},
                        {"Customer", "sales", stage_kind::won},
                        {"Lost", "sales", stage_kind::lost},
                        {"Disqualified", "sales", stage_kind::disqualified}},
                       {.recycle_target = "Lead"});
}

FUNNELKIT_INLINE const stage& stage_model::at(std::int32_t code) const {
    if (code < 0 || static_cast<std::size_t>(code) >= stages_.size())
        detail::throw_option("code", std::to_string(code),
                             "is not a stage code (expected 0.." + std::to_string(stages_.size() - 1) + ")");
    return stages_[static_cast<std::size_t>(code)];
}

FUNNELKIT_INLINE std::optional<std::int32_t> stage_model::find(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < stages_.size(); ++i)
        if (stages_[i].name == name) return static_cast<std::int32_t>(i);
    return std::nullopt;
}

FUNNELKIT_INLINE std::int32_t stage_model::code_of(std::string_view name) const {
    if (auto c = find(name)) return *c;
    detail::throw_option("stage", "'" + std::string(name) + "'", "is not the name of a stage in the model");
}

FUNNELKIT_INLINE std::vector<std::size_t> stage_model::handoffs() const {
    std::vector<std::size_t> out;
    for (std::size_t k = 1; k < ladder_.size(); ++k)
        if (stages_[static_cast<std::size_t>(ladder_[k])].owner !=
            stages_[static_cast<std::size_t>(ladder_[k - 1])].owner)
            out.push_back(k);
    return out;
}

FUNNELKIT_END_NAMESPACE
