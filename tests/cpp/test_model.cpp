#include <gtest/gtest.h>

#include <funnelkit/error.hpp>
#include <funnelkit/model.hpp>

#include <string>

#include "error_testing.hpp"

using funnelkit::stage;
using funnelkit::stage_kind;
using funnelkit::stage_model;

namespace {
using funnelkit_testing::error_of;
}  // namespace

TEST(StageModel, B2bLadderOwnersAndHandoff) {
    const auto m = stage_model::b2b();
    ASSERT_EQ(m.size(), 8u);
    ASSERT_EQ(m.ladder().size(), 6u);
    EXPECT_EQ(m.at(m.ladder()[5]).name, "Customer");
    EXPECT_EQ(m.won(), 5);
    EXPECT_EQ(m.recycle_target(), 0);
    EXPECT_EQ(m.rank(m.code_of("Lost")), -1);
    EXPECT_EQ(m.rank(m.code_of("Disqualified")), -1);
    EXPECT_EQ(m.rank(m.code_of("SQL")), 3);
    EXPECT_TRUE(m.is_terminal(m.code_of("Customer")));
    EXPECT_FALSE(m.is_terminal(m.code_of("MQL")));
    // Marketing owns Lead and MQL; sales takes over at SAL.
    ASSERT_EQ(m.handoffs(), std::vector<std::size_t>{2});
}

TEST(StageModel, OutcomesMayBeDeclaredBetweenLadderStages) {
    const stage_model m({{"A", "m"}, {"Lost", "s", stage_kind::lost}, {"B", "s"}, {"Won", "s", stage_kind::won}});
    ASSERT_EQ(m.ladder().size(), 3u);
    EXPECT_EQ(m.rank(2), 1);
    EXPECT_EQ(m.rank(3), 2);
    EXPECT_EQ(m.rank(1), -1);
}

TEST(StageModel, RejectsBadDefinitionsWithNamedErrors) {
    EXPECT_EQ(error_of([] { stage_model({}); }), "stage model: the stage list is empty");
    EXPECT_EQ(error_of([] { stage_model({{"Lead", "m"}, {"MQL", "m"}, {"Lead", "s"}}); }),
              "column 'name', row 2: value 'Lead' repeats the name of stage 0");
    EXPECT_EQ(error_of([] { stage_model(std::vector<stage>{{"Lead", "m"}, {"", "m"}}); }),
              "column 'name', row 1: value '' is empty: every stage needs a name");
    EXPECT_EQ(error_of([] { stage_model({{"Won", "s", stage_kind::won}, {"After", "s"}}); }),
              "column 'kind', row 1: value 'After' comes after the won stage 'Won': the won stage must be the "
              "last ladder stage");
    EXPECT_EQ(error_of([] { stage_model({{"Lost", "s", stage_kind::lost}}); }),
              "stage model: no step or won stage, so the funnel has no ladder");
    EXPECT_EQ(error_of([] { stage_model({{"A", "m"}}, {.recycle_target = "Nope"}); }),
              "option 'recycle_target': value 'Nope' is not the name of a stage");
    EXPECT_EQ(error_of([] { stage_model({{"A", "m"}, {"W", "s", stage_kind::won}}, {.recycle_target = "W"}); }),
              "option 'recycle_target': value 'W' is a terminal stage; recycling must go to a step stage");
    std::vector<stage> many;
    for (int i = 0; i < 65; ++i) many.push_back({"s" + std::to_string(i), "m"});
    EXPECT_EQ(error_of([&] { stage_model{many}; }), "stage model: 65 ladder stages, at most 64 allowed");
    many.pop_back();
    EXPECT_EQ(stage_model(many).ladder().size(), 64u);
}

TEST(StageModel, LookupAndKinds) {
    const auto m = stage_model::b2b();
    EXPECT_EQ(m.find("MQL"), 1);
    EXPECT_FALSE(m.find("mql").has_value());
    EXPECT_EQ(error_of([&] { (void)m.code_of("Prospect"); }),
              "option 'stage': value 'Prospect' is not the name of a stage in the model");
    EXPECT_EQ(error_of([&] { (void)m.at(8); }), "option 'code': value 8 is not a stage code (expected 0..7)");
    EXPECT_EQ(funnelkit::parse_stage_kind("disqualified"), stage_kind::disqualified);
    EXPECT_EQ(funnelkit::to_string(stage_kind::won), "won");
    EXPECT_THROW((void)funnelkit::parse_stage_kind("closed"), funnelkit::invalid_argument);
    EXPECT_EQ(m, stage_model::b2b());
    EXPECT_FALSE(m == stage_model(std::vector<stage>{{"Lead", "marketing"}}));
}
