// The option words of velocity (velocity.hpp's to_string / parse_* pairs), which the C ABI and
// the SQL functions read their options strings with.
#include <gtest/gtest.h>

#include <funnelkit/error.hpp>
#include <funnelkit/velocity.hpp>

#include <string>

using namespace funnelkit;

namespace {

// parse(to_string(v)) == v for every value, the words are distinct, and an unknown word is
// refused with a message naming the option, the word and every accepted word.
template <class E, class Parse>
void round_trip(Parse parse, unsigned count, const std::string& option) {
    std::string words;
    for (unsigned code = 0; code < count; ++code) {
        const auto value = static_cast<E>(code);
        const std::string word(to_string(value));
        EXPECT_FALSE(word.empty());
        EXPECT_EQ(parse(word), value) << word;
        EXPECT_EQ(words.find("'" + word + "'"), std::string::npos) << word << " twice";
        words += "'" + word + "' ";
    }
    try {
        (void)parse("no_such_word");
        ADD_FAILURE() << option << ": an unknown word parsed";
    } catch (const invalid_argument& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("option '" + option + "'"), std::string::npos) << message;
        EXPECT_NE(message.find("no_such_word"), std::string::npos) << message;
        for (unsigned code = 0; code < count; ++code)
            EXPECT_NE(message.find("'" + std::string(to_string(static_cast<E>(code))) + "'"), std::string::npos)
                << message;
    }
}

}  // namespace

TEST(VelocityOptions, WordsRoundTrip) {
    round_trip<count_basis>(parse_count_basis, 5, "count");
    round_trip<win_rate_basis>(parse_win_rate_basis, 2, "win_rate");
    round_trip<cycle_start>(parse_cycle_start, 3, "cycle_from");
    round_trip<cycle_deals>(parse_cycle_deals, 2, "cycle_over");
    round_trip<cycle_statistic>(parse_cycle_statistic, 2, "cycle_stat");
}

TEST(VelocityOptions, WordsAreTheExplainedOnes) {
    EXPECT_EQ(parse_count_basis("average_open"), count_basis::average_open);
    EXPECT_EQ(parse_count_basis("vendor"), count_basis::vendor);
    EXPECT_EQ(parse_count_basis("created_per_period"), count_basis::created_per_period);
    EXPECT_EQ(to_string(velocity_options{}.count), "average_open");
    EXPECT_EQ(to_string(velocity_options{}.cycle_over), "closed");
    // The words explain() prints are the ones the parsers take.
    velocity_result r;
    r.options.count = count_basis::open_at_start;
    r.options.cycle_stat = cycle_statistic::median;
    const std::string json = r.explain().json();
    EXPECT_NE(json.find("\"count\": \"open_at_start\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"cycle_stat\": \"median\""), std::string::npos) << json;
    EXPECT_THROW((void)parse_count_basis("Average_Open"), invalid_argument);
    EXPECT_THROW((void)parse_count_basis(""), invalid_argument);
}
