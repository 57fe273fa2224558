// funnelkit: the stage model. An ordered list of funnel stages ("the ladder"), each owned by a
// team, ending in an optional won stage, plus off-ladder terminal outcomes (lost,
// disqualified) and an optional recycle target where sales hands entities back to marketing.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE

/// What a stage is. `step` and `won` stages form the ordered ladder (in declaration order);
/// `lost` and `disqualified` are terminal outcomes outside the ladder.
enum class stage_kind : std::uint8_t { step = 0, won = 1, lost = 2, disqualified = 3 };

/// "step", "won", "lost", "disqualified".
std::string_view to_string(stage_kind kind) noexcept;
/// Inverse of to_string; throws funnelkit::invalid_argument on an unknown name.
stage_kind parse_stage_kind(std::string_view name);

/// One stage definition. `owner` names the team that owns entities in this stage
/// (e.g. "marketing", "sales"); the ladder position where the owner changes is a handoff.
struct stage {
    std::string name;
    std::string owner;
    stage_kind kind = stage_kind::step;

    friend bool operator==(const stage&, const stage&) = default;
};

/// A validated stage model. Stage codes are positions in the declaration list; records refer
/// to stages by these codes. The ladder holds at most 64 stages so that the set of stages an
/// entity reached fits one 64-bit mask.
class stage_model {
public:
    static constexpr std::size_t max_ladder = 64;
    static constexpr std::size_t max_stages = 4096;

    /// Validates and builds the model. Throws funnelkit::invalid_argument when the list is
    /// empty, a name is empty or repeated, no stage is on the ladder, the ladder is longer than
    /// 64, there is more than one won stage or the won stage is not the last ladder stage, or
    /// `recycle_target` does not name a `step` stage. An empty `recycle_target` means none.
    struct options {
        std::string recycle_target;
    };
    explicit stage_model(std::vector<stage> stages, const options& opts);
    explicit stage_model(std::vector<stage> stages) : stage_model(std::move(stages), options{}) {}

    /// Lead (marketing) -> MQL (marketing) -> SAL (sales) -> SQL (sales) -> Opportunity
    /// (sales) -> Customer (won), with Lost and Disqualified outcomes; recycling to Lead.
    static stage_model b2b();

    std::size_t size() const noexcept { return stages_.size(); }
    std::span<const stage> stages() const noexcept { return stages_; }
    const stage& at(std::int32_t code) const;

    /// Code of the stage with this name, if any.
    std::optional<std::int32_t> find(std::string_view name) const noexcept;
    /// Code of the stage with this name; throws funnelkit::invalid_argument naming it.
    std::int32_t code_of(std::string_view name) const;

    /// Codes of the ladder stages, in funnel order.
    std::span<const std::int32_t> ladder() const noexcept { return ladder_; }
    /// Ladder position of a stage code, or -1 for an off-ladder outcome. Precondition:
    /// 0 <= code < size().
    std::int32_t rank(std::int32_t code) const noexcept { return rank_[static_cast<std::size_t>(code)]; }
    bool is_terminal(std::int32_t code) const noexcept {
        return stages_[static_cast<std::size_t>(code)].kind != stage_kind::step;
    }
    /// Code of the won stage, if the model has one.
    std::optional<std::int32_t> won() const noexcept { return won_; }
    /// Code of the recycle target, if the model has one.
    std::optional<std::int32_t> recycle_target() const noexcept { return recycle_; }
    /// Ladder positions k (k >= 1) where the owner of ladder stage k differs from the owner of
    /// ladder stage k - 1: the handoffs between teams.
    std::vector<std::size_t> handoffs() const;

    /// A 64-bit fingerprint of everything operator== compares (names, owners and kinds in code
    /// order, the recycle target), never 0. States that store stage codes or ladder ranks record
    /// it, so that a merge of states computed with different models is refused. Stable across
    /// versions and platforms: docs/state-format.md gives the algorithm.
    std::uint64_t fingerprint() const noexcept { return fingerprint_; }

    friend bool operator==(const stage_model& a, const stage_model& b) noexcept {
        return a.stages_ == b.stages_ && a.recycle_ == b.recycle_;
    }

private:
    std::vector<stage> stages_;
    std::vector<std::int32_t> ladder_;
    std::vector<std::int32_t> rank_;
    std::optional<std::int32_t> won_;
    std::optional<std::int32_t> recycle_;
    std::uint64_t fingerprint_ = 0;
};

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/model.ipp"
#endif
