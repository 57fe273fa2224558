#include <gtest/gtest.h>

#include <funnelkit/error.hpp>
#include <funnelkit/synthetic.hpp>
#include <funnelkit/velocity.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace funnelkit;

namespace {
constexpr std::int64_t day = 86'400;

// A small JSON reader for checking explanations: objects, strings, numbers, null (what
// explanation::json writes). Throws std::runtime_error on anything else or on trailing text.
struct json {
    enum kind_t { null_value, number_value, string_value, object_value } kind = null_value;
    double number = 0;
    std::string text;
    std::map<std::string, json> members;
    const json& at(const std::string& k) const { return members.at(k); }
};

struct json_reader {
    std::string_view s;
    std::size_t i = 0;
    void ws() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
    }
    [[noreturn]] void fail() const { throw std::runtime_error("bad JSON at offset " + std::to_string(i)); }
    void expect(char c) {
        ws();
        if (i >= s.size() || s[i] != c) fail();
        ++i;
    }
    std::string str() {
        expect('"');
        std::string out;
        while (i < s.size() && s[i] != '"') {
            char c = s[i++];
            if (static_cast<unsigned char>(c) < 0x20) fail();  // control characters must be escaped
            if (c == '\\') {
                if (i >= s.size()) fail();
                const char e = s[i++];
                if (e == 'n') c = '\n';
                else if (e == 't') c = '\t';
                else if (e == '"' || e == '\\' || e == '/') c = e;
                else if (e == 'u' && i + 4 <= s.size()) {
                    c = static_cast<char>(std::stoi(std::string(s.substr(i, 4)), nullptr, 16));
                    i += 4;
                } else fail();
            }
            out.push_back(c);
        }
        expect('"');
        return out;
    }
    json value() {
        ws();
        json v;
        if (i >= s.size()) fail();
        if (s[i] == '"') {
            v.kind = json::string_value;
            v.text = str();
        } else if (s[i] == '{') {
            v.kind = json::object_value;
            ++i;
            ws();
            if (i < s.size() && s[i] == '}') return ++i, v;
            for (;;) {
                std::string k = str();
                expect(':');
                v.members.emplace(std::move(k), value());
                ws();
                if (i < s.size() && s[i] == ',') { ++i; continue; }
                expect('}');
                break;
            }
        } else if (s.substr(i, 4) == "null") {
            i += 4;
        } else {
            // JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
            const std::size_t start = i;
            if (s[i] == '-') ++i;
            auto digits = [&] {
                const std::size_t d = i;
                while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
                if (i == d) fail();
            };
            if (i < s.size() && s[i] == '0') ++i; else digits();
            if (i < s.size() && s[i] == '.') { ++i; digits(); }
            if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
                ++i;
                if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
                digits();
            }
            v.kind = json::number_value;
            v.number = std::strtod(std::string(s.substr(start, i - start)).c_str(), nullptr);
        }
        return v;
    }
};

json parse_json(std::string_view s) {
    json_reader r{s};
    json v = r.value();
    r.ws();
    if (r.i != s.size()) r.fail();
    return v;
}

struct opps {
    std::vector<std::int64_t> created, closed, sql, touch;
    std::vector<std::int8_t> outcome;
    std::vector<double> amount;
    std::vector<std::int32_t> segment;
    void add(std::int64_t c, std::int64_t cl, std::int8_t oc, double a, std::int32_t s = 0,
             std::int64_t sq = missing_time, std::int64_t t = missing_time) {
        created.push_back(c); closed.push_back(cl); outcome.push_back(oc); amount.push_back(a);
        segment.push_back(s); sql.push_back(sq); touch.push_back(t);
    }
    opportunity_records view(bool with_segment = true) const {
        opportunity_records r{created, closed, outcome, amount};
        if (with_segment) r.segment = segment;
        r.sql_time = sql;
        r.first_touch = touch;
        return r;
    }
};

// The DOMAIN example as records: 40 opportunities created in the period, 10 won at 25,000
// after exactly 90 days, 30 lost (their cycles do not enter L over won deals, as
// the DOMAIN example measures it).
opps domain_example() {
    opps o;
    for (int i = 0; i < 40; ++i) {
        const std::int64_t c = i * day;
        if (i < 10) o.add(c, c + 90 * day, 1, 25'000);
        else o.add(c, c + 5 * day, 2, 10'000);
    }
    return o;
}

// The vendor formula: N created in the period, divided by L (the DOMAIN example's figure).
velocity_options vendor() {
    velocity_options vo;
    vo.count = count_basis::vendor;
    vo.cycle_over = cycle_deals::won;
    return vo;
}
}  // namespace

TEST(Velocity, FormulaDomainExample) {
    const double v = velocity_formula(40, 25'000, 0.25, 90);
    EXPECT_DOUBLE_EQ(v, 250'000.0 / 90.0);
    EXPECT_EQ(std::round(v * 100) / 100, 2777.78);
    EXPECT_THROW(velocity_formula(40, 25'000, 0.25, 0), invalid_argument);
    EXPECT_THROW(velocity_formula(40, 25'000, 1.5, 90), invalid_argument);
    EXPECT_THROW(velocity_formula(-1, 25'000, 0.5, 90), invalid_argument);
}

TEST(Velocity, DomainExampleFromRecords) {
    const auto o = domain_example();
    const period p[] = {{0, 365 * day}};
    const auto res = velocity(o.view(false), p, vendor());
    ASSERT_EQ(res.size(), 1u);
    const auto& r = res[0];
    ASSERT_TRUE(r.defined()) << r.reason;
    EXPECT_EQ(r.n, 40);
    EXPECT_EQ(r.won, 10);
    EXPECT_EQ(r.lost, 30);
    EXPECT_DOUBLE_EQ(*r.deal_value, 25'000);
    EXPECT_DOUBLE_EQ(*r.win_rate, 0.25);
    EXPECT_DOUBLE_EQ(*r.cycle_length, 90);
    EXPECT_NEAR(*r.velocity, 2777.7777777777778, 1e-9);
    const auto e = r.explain();
    EXPECT_NE(e.text().find("V = N * D * W / L"), std::string::npos);
    const auto j = parse_json(e.json());
    EXPECT_EQ(j.at("metric").text, "sales velocity");
    const auto& in = j.at("inputs");
    EXPECT_EQ(in.at("N").kind, json::number_value);
    EXPECT_EQ(in.at("N").number, 40);
    EXPECT_EQ(in.at("D").number, 25'000);
    EXPECT_EQ(in.at("W").number, 0.25);
    EXPECT_EQ(in.at("L").number, 90);
    EXPECT_EQ(in.at("V").number, *r.velocity);  // shortest round-trip form: the same double
    EXPECT_EQ(in.at("period_start").number, 0);
    EXPECT_EQ(in.at("period_end").number, 365 * day);
    EXPECT_EQ(in.at("segment").text, "all");
    EXPECT_EQ(j.at("options").at("cycle_stat").text, "mean");
    EXPECT_EQ(j.at("options").at("seed").number, 42);
}

TEST(Explanation, JsonNumbersNullsAndText) {
    explanation e;
    e.metric = "m \"quoted\"";
    e.formula = "a\nb";
    e.inputs = {{"n", std::int64_t{40}},
                {"neg", std::int32_t{-7}},
                {"seed", std::numeric_limits<std::uint64_t>::max()},
                {"rate", 0.25},
                {"third", 1.0 / 3},
                {"big", 1e300},
                {"nan", std::nan("")},
                {"inf", -std::numeric_limits<double>::infinity()},
                {"missing", std::optional<double>{}},
                {"present", std::optional<double>{2.5}},
                {"label", "all"}};
    e.options = {{"unit_name", std::string("day")}, {"count", std::string_view("open_at_start")}};
    e.note = "tab\there \x01";
    EXPECT_EQ(e.json(),
              R"({"metric": "m \"quoted\"", "formula": "a\nb", "inputs": {"n": 40, "neg": -7, )"
              R"("seed": 18446744073709551615, "rate": 0.25, "third": 0.3333333333333333, "big": 1e+300, )"
              R"("nan": null, "inf": null, "missing": null, "present": 2.5, "label": "all"}, )"
              R"("options": {"unit_name": "day", "count": "open_at_start"}, "note": "tab\there \u0001"})");
    const auto j = parse_json(e.json());
    EXPECT_EQ(j.at("note").text, e.note);
    EXPECT_EQ(j.at("inputs").at("third").number, 1.0 / 3);
    EXPECT_EQ(j.at("inputs").at("missing").kind, json::null_value);
    EXPECT_EQ(j.at("inputs").at("label").kind, json::string_value);
    // The text form is unchanged: ten significant digits, "undefined" for a missing value.
    EXPECT_NE(e.text().find("  third = 0.3333333333\n"), std::string::npos);
    EXPECT_NE(e.text().find("  missing = undefined\n"), std::string::npos);
    EXPECT_NE(e.text().find("options: unit_name=day count=open_at_start\n"), std::string::npos);
    EXPECT_THROW(parse_json(R"({"a": 1,})"), std::runtime_error);  // the reader does reject bad JSON
}

TEST(Velocity, OptionsChangeTheInputs) {
    auto o = domain_example();
    const period p[] = {{0, 365 * day}};
    // W by value: 250,000 / (250,000 + 300,000).
    velocity_options vo = vendor();
    vo.win_rate = win_rate_basis::value;
    auto r = velocity(o.view(false), p, vo)[0];
    EXPECT_DOUBLE_EQ(*r.win_rate, 250'000.0 / 550'000.0);
    // L over all closed deals: (10*90 + 30*5) / 40 days.
    vo = vendor();
    vo.cycle_over = cycle_deals::closed;
    r = velocity(o.view(false), p, vo)[0];
    EXPECT_DOUBLE_EQ(*r.cycle_length, (10 * 90 + 30 * 5) / 40.0);
    EXPECT_EQ(r.cycle_deals, 40);
    // Median over all closed: 30 of 40 are 5 days.
    vo.cycle_stat = cycle_statistic::median;
    r = velocity(o.view(false), p, vo)[0];
    EXPECT_DOUBLE_EQ(*r.cycle_length, 5);
    // L in weeks: V per week is 7 times V per day.
    vo = vendor();
    vo.time_unit = 7 * 86'400.0;
    vo.unit_name = "week";
    r = velocity(o.view(false), p, vo)[0];
    EXPECT_NEAR(*r.velocity, 7 * 2777.7777777777778, 1e-8);
    // Cycle from SQL: only rows with an SQL time enter L, the others are counted as missing.
    for (std::size_t i = 0; i < 5; ++i) o.sql[i] = o.created[i] - 10 * day;
    vo = vendor();
    vo.cycle_from = cycle_start::sql;
    r = velocity(o.view(false), p, vo)[0];
    EXPECT_EQ(r.cycle_deals, 5);
    EXPECT_EQ(r.cycle_missing, 5);
    EXPECT_DOUBLE_EQ(*r.cycle_length, 100);
    vo.cycle_from = cycle_start::first_touch;
    r = velocity(o.view(false), p, vo)[0];
    EXPECT_EQ(r.status, velocity_status::no_cycle);
    EXPECT_FALSE(r.velocity.has_value());
}

TEST(Velocity, OpenAtStartAndPeriods) {
    opps o;
    o.add(-10 * day, 5 * day, 1, 100);     // open at start of p0, won in p0
    o.add(-10 * day, -5 * day, 2, 100);    // closed before p0: not open at its start
    o.add(-1, missing_time, 0, 0);         // open across both starts
    o.add(3 * day, 15 * day, 1, 300);      // created in p0, won in p1: open at p1's start
    o.add(0, 10 * day, 2, 50);             // created at p0's start (not open *at* it), lost at p1's start
    const period p[] = {{0, 10 * day}, {10 * day, 20 * day}};
    velocity_options vo;
    vo.count = count_basis::open_at_start;
    const auto r = velocity(o.view(false), p, vo);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].n, 2);  // rows 0 and 2
    EXPECT_EQ(r[1].n, 3);  // rows 2, 3 and 4 (closed exactly at the start: still open then)
    const auto c = velocity(o.view(false), p, vendor());
    EXPECT_EQ(c[0].n, 2);  // rows 3 and 4
    EXPECT_EQ(c[1].n, 0);
    EXPECT_EQ(c[1].won, 1);
    EXPECT_EQ(c[1].lost, 1);
    EXPECT_EQ(c[1].status, velocity_status::ok);
    EXPECT_DOUBLE_EQ(*c[1].velocity, 0.0);  // N = 0 is a defined zero
}

TEST(Velocity, UndefinedIsFlaggedNeverNaN) {
    opps o;
    o.add(0, day, 2, 100);          // lost only in p0
    o.add(0, 15 * day, 1, 100);     // won in p1 after 15 days
    o.add(25 * day, 25 * day, 1, 100);  // won the moment it was created, in p2
    const period p[] = {{0, 10 * day}, {10 * day, 20 * day}, {20 * day, 30 * day}, {30 * day, 40 * day}};
    const auto r = velocity(o.view(false), p);
    EXPECT_EQ(r[0].status, velocity_status::no_won_deals);
    EXPECT_TRUE(r[0].win_rate.has_value());
    EXPECT_EQ(*r[0].win_rate, 0.0);
    EXPECT_EQ(r[1].status, velocity_status::ok);
    EXPECT_EQ(r[2].status, velocity_status::zero_cycle);
    EXPECT_FALSE(r[2].velocity.has_value());
    EXPECT_EQ(r[3].status, velocity_status::no_won_deals);
    EXPECT_FALSE(r[3].win_rate.has_value());
    for (const auto& x : r) {
        if (!x.defined()) {
            EXPECT_FALSE(x.reason.empty());
            EXPECT_NE(x.explain().note.find("undefined"), std::string::npos);
        }
    }
    // W by value with closed deals of amount 0 only.
    opps z;
    z.add(0, day, 1, 0);
    velocity_options vo;
    vo.win_rate = win_rate_basis::value;
    EXPECT_EQ(velocity(z.view(false), std::span(p, 1), vo)[0].status, velocity_status::no_closed_deals);
}

TEST(Velocity, BadInput) {
    const period p[] = {{0, 10}};
    opps o;
    o.add(5, 3, 1, 100);
    EXPECT_THROW(velocity(o.view(), p), invalid_argument);
    opps b;
    b.add(0, 3, 7, 100);
    EXPECT_THROW(velocity(b.view(), p), invalid_argument);
    opps n;
    n.add(0, 3, 1, std::nan(""));
    try {
        velocity(n.view(), p);
        FAIL();
    } catch (const invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("amount"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("row 0"), std::string::npos);
    }
    const auto g = domain_example();
    const period overlap[] = {{0, 10}, {5, 20}};
    EXPECT_THROW(velocity(g.view(), overlap), invalid_argument);
    const period empty[] = {{10, 10}};
    EXPECT_THROW(velocity(g.view(), empty), invalid_argument);
    velocity_options vo;
    vo.time_unit = 0;
    EXPECT_THROW(velocity(g.view(), p, vo), invalid_argument);
    opportunity_records no_sql{g.created, g.closed, g.outcome, g.amount};
    vo = {};
    vo.cycle_from = cycle_start::sql;
    EXPECT_THROW(velocity(no_sql, p, vo), invalid_argument);
    std::vector<double> short_amount(3, 1.0);
    opportunity_records bad_len{g.created, g.closed, g.outcome, short_amount};
    EXPECT_THROW(velocity(bad_len, p), invalid_argument);
}

// Independent reference: a direct, per-cell evaluation of the definitions.
namespace {
std::optional<double> reference_v(const opps& o, period q, int seg, const velocity_options& vo, velocity_result* out) {
    double n = 0, won = 0, lost = 0, wa = 0, la = 0;
    std::vector<double> cyc;
    for (std::size_t i = 0; i < o.created.size(); ++i) {
        if (seg >= 0 && o.segment[i] != seg) continue;
        const bool closed = o.outcome[i] != 0;
        if (vo.count == count_basis::created_in_period || vo.count == count_basis::vendor ||
            vo.count == count_basis::created_per_period) {
            if (o.created[i] >= q.start && o.created[i] < q.end) n += 1;
        } else if (vo.count == count_basis::open_at_start) {
            if (o.created[i] < q.start && (!closed || o.closed[i] >= q.start)) n += 1;
        } else {
            // Time open inside the period, as a share of its length.
            const double from = static_cast<double>(std::max(o.created[i], q.start));
            const double to = static_cast<double>(closed ? std::min(o.closed[i], q.end) : q.end);
            if (to > from) n += (to - from) / static_cast<double>(q.end - q.start);
        }
        if (!closed || o.closed[i] < q.start || o.closed[i] >= q.end) continue;
        if (o.outcome[i] == 1) { won += 1; wa += o.amount[i]; } else { lost += 1; la += o.amount[i]; }
        if (o.outcome[i] == 1 || vo.cycle_over == cycle_deals::closed) {
            const std::int64_t s = vo.cycle_from == cycle_start::created ? o.created[i]
                                   : vo.cycle_from == cycle_start::sql ? o.sql[i] : o.touch[i];
            if (s != missing_time) cyc.push_back(static_cast<double>(o.closed[i] - s) / vo.time_unit);
        }
    }
    out->n = n;
    out->won = static_cast<std::int64_t>(won);
    if (won == 0) return std::nullopt;
    const double d = wa / won;
    const double w = vo.win_rate == win_rate_basis::count ? won / (won + lost) : wa / (wa + la);
    if (vo.count == count_basis::created_per_period) return n * d * w / (static_cast<double>(q.end - q.start) / vo.time_unit);
    if (cyc.empty()) return std::nullopt;
    std::sort(cyc.begin(), cyc.end());
    double l = 0;
    if (vo.cycle_stat == cycle_statistic::mean) {
        for (double c : cyc) l += c;
        l /= static_cast<double>(cyc.size());
    } else {
        const std::size_t m = cyc.size();
        l = m % 2 ? cyc[m / 2] : (cyc[m / 2 - 1] + cyc[m / 2]) / 2;
    }
    if (l <= 0) return std::nullopt;
    return n * d * w / l;
}
}  // namespace

TEST(Velocity, MatchesReferenceOnRandomData) {
    std::mt19937_64 g(7);
    opps o;
    for (int i = 0; i < 3000; ++i) {
        const std::int64_t c = static_cast<std::int64_t>(g() % (400 * day));
        const int oc = static_cast<int>(g() % 3);
        const std::int64_t cl = oc ? c + static_cast<std::int64_t>(g() % (120 * day)) : missing_time;
        const std::int64_t sq = g() % 4 ? c - static_cast<std::int64_t>(g() % (30 * day)) : missing_time;
        const std::int64_t t = sq != missing_time ? sq - static_cast<std::int64_t>(g() % (30 * day)) : missing_time;
        o.add(c, cl, static_cast<std::int8_t>(oc), static_cast<double>(1000 + g() % 50'000), static_cast<int>(g() % 4), sq, t);
    }
    std::vector<period> ps;
    for (int m = 0; m < 12; ++m) ps.push_back({m * 30 * day + 5 * day, (m + 1) * 30 * day + 5 * day});
    int checked = 0;
    for (int cb = 0; cb < 5; ++cb)
        for (int wb = 0; wb < 2; ++wb)
            for (int cs = 0; cs < 3; ++cs)
                for (int co = 0; co < 2; ++co)
                    for (int st = 0; st < 2; ++st) {
                        velocity_options vo;
                        vo.count = static_cast<count_basis>(cb);
                        vo.win_rate = static_cast<win_rate_basis>(wb);
                        vo.cycle_from = static_cast<cycle_start>(cs);
                        vo.cycle_over = static_cast<cycle_deals>(co);
                        vo.cycle_stat = static_cast<cycle_statistic>(st);
                        const auto res = velocity(o.view(), ps, vo);
                        ASSERT_EQ(res.size(), ps.size() * 5);
                        for (const auto& r : res) {
                            velocity_result ref;
                            const auto v = reference_v(o, ps[r.period_index], r.segment, vo, &ref);
                            ASSERT_NEAR(r.n, ref.n, 1e-9 * std::max(1.0, ref.n));
                            ASSERT_EQ(r.won, ref.won);
                            ASSERT_EQ(v.has_value(), r.velocity.has_value());
                            if (v) {
                                ASSERT_NEAR(*r.velocity, *v, 1e-9 * std::max(1.0, *v));
                                ++checked;
                            }
                        }
                    }
    EXPECT_GT(checked, 2000);
}

TEST(Velocity, BootstrapIsSeededAndBracketsTheEstimate) {
    std::mt19937_64 g(3);
    opps o;
    for (int i = 0; i < 400; ++i) {
        const std::int64_t c = static_cast<std::int64_t>(g() % (100 * day));
        const std::int8_t oc = static_cast<std::int8_t>(1 + g() % 2);
        o.add(c, c + static_cast<std::int64_t>(g() % (60 * day)) + day, oc, static_cast<double>(1000 + g() % 9000));
    }
    const period p[] = {{0, 200 * day}};
    velocity_options vo;
    vo.bootstrap = 300;
    vo.seed = 11;
    const auto a = velocity(o.view(false), p, vo)[0];
    const auto b = velocity(o.view(false), p, vo)[0];
    ASSERT_TRUE(a.ci_lower && a.ci_upper);
    EXPECT_EQ(*a.ci_lower, *b.ci_lower);
    EXPECT_EQ(*a.ci_upper, *b.ci_upper);
    EXPECT_LT(*a.ci_lower, *a.velocity);
    EXPECT_GT(*a.ci_upper, *a.velocity);
    vo.seed = 12;
    const auto c = velocity(o.view(false), p, vo)[0];
    EXPECT_NE(*a.ci_lower, *c.ci_lower);
    // A wider level gives a wider interval.
    vo.seed = 11;
    vo.confidence = 0.99;
    const auto w = velocity(o.view(false), p, vo)[0];
    EXPECT_LE(*w.ci_lower, *a.ci_lower);
    EXPECT_GE(*w.ci_upper, *a.ci_upper);
}

TEST(Velocity, DecompositionSumsToTheChange) {
    const auto d = decompose_velocity(40, 25'000, 0.25, 90, 50, 24'000, 0.30, 80);
    EXPECT_NEAR(d.v0, 2777.7777777777778, 1e-9);
    EXPECT_NEAR(d.v1, 50 * 24'000 * 0.30 / 80, 1e-9);
    EXPECT_NEAR(d.n + d.d + d.w + d.l, d.v1 - d.v0, 1e-9);
    EXPECT_NEAR(d.log_n + d.log_d + d.log_w + d.log_l, std::log(d.v1 / d.v0), 1e-12);
    EXPECT_NEAR(d.log_n, std::log(50.0 / 40), 1e-15);
    EXPECT_NEAR(d.log_l, -std::log(80.0 / 90), 1e-15);
    EXPECT_GT(d.l, 0);  // a shorter cycle raises V
    EXPECT_LT(d.d, 0);
    EXPECT_NEAR(d.weight, (d.v1 - d.v0) / std::log(d.v1 / d.v0), 1e-9);
    // Equal values: L(a, a) = a; offsetting drivers give contributions summing to 0.
    const auto same = decompose_velocity(40, 25'000, 0.25, 90, 40, 25'000, 0.25, 90);
    EXPECT_EQ(same.weight, same.v0);
    EXPECT_EQ(same.n + same.d + same.w + same.l, 0.0);
    const auto off = decompose_velocity(40, 25'000, 0.25, 90, 80, 25'000, 0.25, 180);
    EXPECT_NEAR(off.v1, off.v0, 1e-9);
    EXPECT_NEAR(off.n, off.v0 * std::log(2.0), 1e-6);
    EXPECT_NEAR(off.n + off.l, 0.0, 1e-9);
    EXPECT_THROW(decompose_velocity(0, 1, 1, 1, 1, 1, 1, 1), invalid_argument);
    EXPECT_THROW(decompose_velocity(1, 1, 1, 1, 1, 1, std::nan(""), 1), invalid_argument);
    // Random property: the four contributions always sum to V1 - V0.
    std::mt19937_64 g(5);
    std::uniform_real_distribution<double> u(0.01, 100.0);
    for (int i = 0; i < 1000; ++i) {
        const auto r = decompose_velocity(u(g), u(g), u(g) / 100, u(g), u(g), u(g), u(g) / 100, u(g));
        ASSERT_NEAR(r.n + r.d + r.w + r.l, r.v1 - r.v0, 1e-9 * std::max({1.0, r.v0, r.v1}));
        ASSERT_NEAR(r.shapley_n + r.shapley_d + r.shapley_w + r.shapley_l, r.v1 - r.v0, 1e-9 * std::max({1.0, r.v0, r.v1}));
    }
    EXPECT_EQ(parse_json(d.explain().json()).at("options").at("method").text, "LMDI-I and Shapley");
}

TEST(Velocity, DecomposeUndefinedResultThrows) {
    velocity_result a, b;
    a.status = velocity_status::no_won_deals;
    a.reason = "no won deal";
    EXPECT_THROW(decompose_velocity(a, b), invalid_argument);
}

TEST(Velocity, FromSampleStageRecords) {
    const auto s = generate_sample({.leads = 20'000, .seed = 3});
    const auto t = opportunities_from_stages(sample_model(), s.records());
    // Independent count of entities with Opportunity (code 4) and Customer (code 5) rows.
    std::set<std::int64_t> with_opp, won;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s.stage[i] == 4) with_opp.insert(s.entity[i]);
        if (s.stage[i] == 5) won.insert(s.entity[i]);
    }
    ASSERT_EQ(t.size(), with_opp.size());
    std::size_t n_won = 0;
    for (std::size_t i = 0; i < t.size(); ++i) {
        n_won += t.outcome[i] == 1;
        EXPECT_GT(t.amount[i], 0);
        EXPECT_LE(t.first_touch[i], t.created[i]);
        if (t.outcome[i] != 0) {
            EXPECT_GE(t.closed[i], t.created[i]);
        }
    }
    EXPECT_EQ(n_won, won.size());
    std::vector<period> months;
    for (int m = 0; m < 12; ++m) months.push_back({1'704'067'200 + m * 30 * day, 1'704'067'200 + (m + 1) * 30 * day});
    const auto v = velocity(t.records(), months);
    ASSERT_EQ(v.size(), months.size() * 7);
    // Later months of the sample have wins and a velocity per source.
    int defined = 0;
    for (const auto& r : v) defined += r.defined();
    EXPECT_GT(defined, 40);
}

TEST(Velocity, ExtremeTimesDoNotOverflow) {
    opps o;
    const std::int64_t far_past = std::numeric_limits<std::int64_t>::min() + 1;
    o.add(0, std::numeric_limits<std::int64_t>::max() - 1, 1, 100, 0, far_past, far_past);
    const period p[] = {{std::numeric_limits<std::int64_t>::max() - 10, std::numeric_limits<std::int64_t>::max()}};
    velocity_options vo;
    vo.cycle_from = cycle_start::sql;
    const auto r = velocity(o.view(), p, vo)[0];
    ASSERT_TRUE(r.cycle_length.has_value());
    EXPECT_TRUE(std::isfinite(*r.cycle_length));
    EXPECT_GT(*r.cycle_length, 1e14);
}

// A seeded interval depends on the deals as a set and the seed only: every row order gives the
// same bounds, bit for bit (they moved by up to 53% with the row order before).
TEST(Velocity, BootstrapDoesNotDependOnRowOrder) {
    std::mt19937_64 g(5);
    opps o;
    for (int i = 0; i < 300; ++i) {
        const std::int64_t c = static_cast<std::int64_t>(g() % (100 * day));
        const auto oc = static_cast<std::int8_t>(g() % 3);
        o.add(c, oc ? c + static_cast<std::int64_t>(g() % (60 * day)) + day : missing_time, oc,
              static_cast<double>(g() % 50) * 250.0, static_cast<std::int32_t>(g() % 3));
    }
    const period p[] = {{0, 50 * day}, {50 * day, 200 * day}};
    velocity_options vo;
    vo.bootstrap = 200;
    vo.seed = 3;
    for (auto stat : {cycle_statistic::mean, cycle_statistic::median}) {
        vo.cycle_stat = stat;
        const auto want = velocity(o.view(), p, vo);
        std::vector<std::size_t> perm(o.created.size());
        std::iota(perm.begin(), perm.end(), std::size_t{0});
        for (int trial = 0; trial < 3; ++trial) {
            std::shuffle(perm.begin(), perm.end(), g);
            opps s;
            for (std::size_t i : perm)
                s.add(o.created[i], o.closed[i], o.outcome[i], o.amount[i], o.segment[i], o.sql[i], o.touch[i]);
            const auto got = velocity(s.view(), p, vo);
            ASSERT_EQ(got.size(), want.size());
            for (std::size_t k = 0; k < got.size(); ++k) {
                EXPECT_EQ(got[k].ci_lower, want[k].ci_lower) << "cell " << k;
                EXPECT_EQ(got[k].ci_upper, want[k].ci_upper) << "cell " << k;
                EXPECT_EQ(got[k].bootstrap_undefined, want[k].bootstrap_undefined);
            }
        }
        EXPECT_TRUE(want[0].ci_lower.has_value());
    }
}

// Cycle lengths at the top of the int64 range keep every second: (closed - created) is taken
// in integers, then divided. In doubles both times rounded to multiples of 1024 seconds.
TEST(Velocity, CycleLengthExactAtTheInt64Limit) {
    const std::int64_t hi = std::numeric_limits<std::int64_t>::max();
    opps o;
    o.add(hi - 1'000'001, hi - 1, 1, 100);
    o.add(hi - 3 * day - 7, hi - 7, 1, 300);
    const period p[] = {{hi - 20 * day, hi}};
    const auto r = velocity(o.view(false), p, vendor())[0];
    ASSERT_TRUE(r.cycle_length.has_value());
    EXPECT_EQ(*r.cycle_length, (1'000'000.0 / 86'400.0 + 3.0) / 2.0);
    EXPECT_EQ(r.n, 2);
}

// Found by fuzzing: finite amounts near the largest double summed to an infinite D, so V was
// reported as infinite and its bootstrap interval as NaN. Such sums are now an error.
TEST(Velocity, SumsBeyondTheLargestDoubleAreAnError) {
    opps o;
    o.add(0, day, 1, 1e308);
    o.add(0, day, 1, 1e308);
    const period p[] = {{0, 10 * day}};
    try {
        (void)velocity(o.view(false), p, {});
        ADD_FAILURE() << "no error";
    } catch (const invalid_argument& e) {
        EXPECT_STREQ(e.what(), "column 'amount': the amounts of the deals closed in period 0 (all segments) sum beyond the "
                               "largest double");
    }
    // V is finite but V * period length is not: an error too, never an infinity in disguise.
    opps big;
    big.add(0, 1, 1, 1e300);
    const period huge[] = {{0, std::numeric_limits<std::int64_t>::max()}};
    velocity_options per_tick;
    per_tick.time_unit = 1.0;
    per_tick.count = count_basis::vendor;
    try {
        (void)velocity(big.view(false), huge, per_tick);
        ADD_FAILURE() << "no error";
    } catch (const invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("V per period"), std::string::npos) << e.what();
    }
    velocity_options tiny;
    tiny.time_unit = 1e-310;
    opps far;
    far.add(0, std::numeric_limits<std::int64_t>::max() - 1, 1, 10);
    const period all[] = {{0, std::numeric_limits<std::int64_t>::max()}};
    EXPECT_THROW((void)velocity(far.view(false), all, tiny), invalid_argument);
    // One huge deal among small ones: V is finite, replicates that draw it too often are
    // undefined, and the interval never holds a NaN.
    opps mixed;
    for (int i = 0; i < 20; ++i) mixed.add(0, day, 1, 1.0);
    mixed.add(0, day, 1, 4e306);
    velocity_options vo;
    vo.bootstrap = 200;
    const auto r = velocity(mixed.view(false), p, vo)[0];
    ASSERT_TRUE(r.velocity.has_value());
    if (r.ci_lower) {
        EXPECT_FALSE(std::isnan(*r.ci_lower));
        EXPECT_FALSE(std::isnan(*r.ci_upper));
    }
}

// N as the time-averaged open pipeline, worked by hand over the period [0, 10 days):
// A open all along (share 1), B open from day 5 (share 0.5, won on day 15, after the period),
// C open from day 2 to day 4 (share 0.2, won for 600 after 2 days), D lost on day 8 after 4
// (share 0.4). L is the mean time open of the closed deals C and D: 3 days.
TEST(Velocity, AverageOpenIsTheTimeAveragedPipeline) {
    opps o;
    o.add(-10 * day, missing_time, 0, 0);
    o.add(5 * day, 15 * day, 1, 900);
    o.add(2 * day, 4 * day, 1, 600);
    o.add(4 * day, 8 * day, 2, 50);
    const period p[] = {{0, 10 * day}};
    const auto r = velocity(o.view(false), p)[0];  // average_open is the default
    ASSERT_TRUE(r.defined()) << r.reason;
    EXPECT_NEAR(r.n, 1.0 + 0.5 + 0.2 + 0.4, 1e-12);
    EXPECT_DOUBLE_EQ(*r.deal_value, 600);
    EXPECT_DOUBLE_EQ(*r.win_rate, 0.5);
    EXPECT_DOUBLE_EQ(*r.cycle_length, 3);
    EXPECT_NEAR(*r.velocity, 2.1 * 600 * 0.5 / 3, 1e-9);
    EXPECT_NEAR(*r.velocity_per_period, 10 * 2.1 * 600 * 0.5 / 3, 1e-9);
    EXPECT_DOUBLE_EQ(r.period_length, 10);
    EXPECT_DOUBLE_EQ(r.realised, 60);  // 600 won in 10 days
    const auto e = r.explain();
    EXPECT_NE(e.note.find("time-averaged open pipeline"), std::string::npos);
    EXPECT_NE(e.note.find("Little's law"), std::string::npos);
}

// N created in the period makes N * D * W revenue per period: V divides by the period length.
// The DOMAIN example over a year: 40 * 25,000 * 0.25 = 250,000 a year, 684.93 a day, while the
// vendor formula divides by L = 90 days and prints 2,777.78 a day.
TEST(Velocity, CreatedPerPeriodIsPerPeriodAndVendorKeepsItsName) {
    const auto o = domain_example();
    const period p[] = {{0, 365 * day}};
    velocity_options vo;
    vo.count = count_basis::created_per_period;
    const auto r = velocity(o.view(false), p, vo)[0];
    ASSERT_TRUE(r.defined());
    EXPECT_DOUBLE_EQ(*r.velocity_per_period, 250'000);
    EXPECT_DOUBLE_EQ(*r.velocity, 250'000.0 / 365.0);
    EXPECT_NE(r.explain().formula.find("period length"), std::string::npos);
    const auto v = velocity(o.view(false), p, vendor())[0];
    EXPECT_NEAR(*v.velocity, 2777.7777777777778, 1e-9);
    EXPECT_NE(v.explain().note.find("vendor formula"), std::string::npos);
    // The realised won revenue per day is the same whatever N: 250,000 / 365.
    EXPECT_DOUBLE_EQ(v.realised, 250'000.0 / 365.0);
    EXPECT_DOUBLE_EQ(r.realised, 250'000.0 / 365.0);
    // L is not needed per period: no won cycle still gives a defined V.
    velocity_options sql = vo;
    sql.cycle_from = cycle_start::first_touch;
    EXPECT_TRUE(velocity(o.view(false), p, sql)[0].defined());
}

// Little's law on the sample data: in a steady state (the second half of the year, after the
// pipeline has filled), the default V (N the time-averaged open pipeline, L the mean time open
// of every closed deal) is within 10% of the won revenue realised per day. L over won deals
// only is shorter here (the sources that win more also close faster) and overstates V by
// about 17%; the vendor formula is many times too high.
TEST(Velocity, DefaultVelocityMatchesRealisedRevenueInSteadyState) {
    const auto s = generate_sample({.leads = 20'000, .seed = 42});
    const auto t = opportunities_from_stages(sample_model(), s.records());
    const std::int64_t start = 1'704'067'200;
    const period p[] = {{start + 182 * day, start + 365 * day}};
    const auto r = velocity(t.records(), p)[0];
    ASSERT_TRUE(r.defined()) << r.reason;
    EXPECT_NEAR(*r.velocity / r.realised, 1.0, 0.10) << *r.velocity << " vs " << r.realised;
    velocity_options won = {};
    won.cycle_over = cycle_deals::won;
    const auto c = velocity(t.records(), p, won)[0];
    EXPECT_GT(*c.velocity / c.realised, *r.velocity / r.realised);
    const auto v = velocity(t.records(), p, vendor())[0];
    EXPECT_GT(*v.velocity / v.realised, 3.0);
}

// Shapley against a direct average over the 24 orders in which the four factors can change.
TEST(Velocity, ShapleySplitAveragesTheOrders) {
    const double x0[4] = {40, 25'000, 0.25, 1.0 / 90}, x1[4] = {50, 24'000, 0.30, 1.0 / 80};
    double want[4] = {0, 0, 0, 0};
    int order[4] = {0, 1, 2, 3};
    int orders = 0;
    do {
        double cur[4] = {x0[0], x0[1], x0[2], x0[3]};
        for (int k : order) {
            const double before = cur[0] * cur[1] * cur[2] * cur[3];
            cur[k] = x1[k];
            want[k] += cur[0] * cur[1] * cur[2] * cur[3] - before;
        }
        ++orders;
    } while (std::next_permutation(order, order + 4));
    ASSERT_EQ(orders, 24);
    const auto d = decompose_velocity(40, 25'000, 0.25, 90, 50, 24'000, 0.30, 80);
    EXPECT_NEAR(d.shapley_n, want[0] / 24, 1e-9);
    EXPECT_NEAR(d.shapley_d, want[1] / 24, 1e-9);
    EXPECT_NEAR(d.shapley_w, want[2] / 24, 1e-9);
    EXPECT_NEAR(d.shapley_l, want[3] / 24, 1e-9);
    EXPECT_NEAR(d.shapley_n + d.shapley_d + d.shapley_w + d.shapley_l, d.change(), 1e-9);
    // Only N changes: all of the change is N's, in both splits.
    const auto n_only = decompose_velocity(40, 25'000, 0.25, 90, 80, 25'000, 0.25, 90);
    EXPECT_NEAR(n_only.shapley_n, n_only.change(), 1e-9);
    EXPECT_EQ(n_only.shapley_d, 0.0);
    EXPECT_NE(d.explain().note.find("Shapley"), std::string::npos);
}

// The time-averaged N is summed exactly in integer ticks: every row order gives the same bits.
TEST(Velocity, AverageOpenDoesNotDependOnRowOrder) {
    std::mt19937_64 g(9);
    opps o;
    for (int i = 0; i < 2000; ++i) {
        const std::int64_t c = static_cast<std::int64_t>(g() % (300 * day)) + static_cast<std::int64_t>(g() % 997);
        const auto oc = static_cast<std::int8_t>(g() % 3);
        o.add(c, oc ? c + static_cast<std::int64_t>(g() % (90 * day)) + 1 : missing_time, oc,
              static_cast<double>(1 + g() % 9000), static_cast<std::int32_t>(g() % 3));
    }
    std::vector<period> ps;
    for (int m = 0; m < 10; ++m) ps.push_back({m * 31 * day + 7, (m + 1) * 31 * day + 7});
    const auto want = velocity(o.view(), ps);
    opps r;
    for (std::size_t i = o.created.size(); i-- > 0;)
        r.add(o.created[i], o.closed[i], o.outcome[i], o.amount[i], o.segment[i], o.sql[i], o.touch[i]);
    const auto got = velocity(r.view(), ps);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
        EXPECT_EQ(got[k].n, want[k].n) << k;
    }
}

// The deprecated enumerator created_in_period keeps its former meaning, the vendor figure (N
// created in the period, divided by L), so old callers get the same numbers; its explanation
// names both new words.
TEST(Velocity, DeprecatedCreatedInPeriodIsTheVendorFigure) {
    const auto o = domain_example();
    const period p[] = {{0, 365 * day}};
    velocity_options old = vendor();
    old.count = count_basis::created_in_period;
    const auto r = velocity(o.view(false), p, old)[0];
    const auto v = velocity(o.view(false), p, vendor())[0];
    ASSERT_TRUE(r.defined());
    EXPECT_EQ(*r.velocity, *v.velocity);
    EXPECT_NEAR(*r.velocity, 2777.7777777777778, 1e-9);
    const auto note = r.explain().note;
    EXPECT_NE(note.find("deprecated"), std::string::npos);
    EXPECT_NE(note.find("created_per_period"), std::string::npos);
    EXPECT_NE(note.find("vendor"), std::string::npos);
}

// explain() claims Little's law only with N the time-averaged pipeline and L the mean time open
// from creation over every closed deal; otherwise it names what differs.
TEST(Velocity, LittlesLawIsClaimedOnlyWhenItHolds) {
    const auto o = domain_example();
    const period p[] = {{0, 365 * day}};
    velocity_options vo;  // the defaults: average_open, created, closed, mean
    const auto ok = velocity(o.view(false), p, vo)[0].explain().note;
    EXPECT_NE(ok.find("by Little's law"), std::string::npos);
    vo.cycle_over = cycle_deals::won;
    vo.cycle_stat = cycle_statistic::median;
    const auto bad = velocity(o.view(false), p, vo)[0].explain().note;
    EXPECT_EQ(bad.find("by Little's law"), std::string::npos);
    EXPECT_NE(bad.find("does not apply"), std::string::npos);
    EXPECT_NE(bad.find("won deals only"), std::string::npos);
    EXPECT_NE(bad.find("median"), std::string::npos);
    vo = {};
    vo.count = count_basis::open_at_start;
    EXPECT_EQ(velocity(o.view(false), p, vo)[0].explain().note.find("by Little's law"), std::string::npos);
}

// Two results on different bases do not split: the error names the option.
TEST(Velocity, DecompositionRefusesDifferentBases) {
    const auto o = domain_example();
    const period p[] = {{0, 365 * day}};
    velocity_options a = vendor(), b = vendor();
    b.count = count_basis::created_per_period;
    const auto ra = velocity(o.view(false), p, a);
    const auto rb = velocity(o.view(false), p, b);
    ASSERT_TRUE(ra[0].defined() && rb[0].defined());
    try {
        (void)decompose_velocity(ra[0], rb[0]);
        ADD_FAILURE() << "no error";
    } catch (const invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("count"), std::string::npos) << e.what();
    }
    b = vendor();
    b.win_rate = win_rate_basis::value;
    const auto rc = velocity(o.view(false), p, b);
    try {
        (void)decompose_velocity(ra[0], rc[0]);
        ADD_FAILURE() << "no error";
    } catch (const invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("win_rate"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW((void)decompose_velocity(ra[0], ra[0]));
}

// A period running past the end of the data is partial: the share observed and the note say so.
TEST(Velocity, PeriodsPastTheDataEndArePartial) {
    const auto o = domain_example();  // the latest time: the last won close, day 9 + 90 = 99
    const period p[] = {{0, 50 * day}, {50 * day, 150 * day}};
    const auto r = velocity(o.view(false), p, {});
    EXPECT_FALSE(r[0].partial);
    EXPECT_EQ(r[0].observed, 1.0);
    EXPECT_TRUE(r[1].partial);
    EXPECT_EQ(r[1].as_of, 99 * day);
    EXPECT_DOUBLE_EQ(r[1].observed, 0.49);
    EXPECT_NE(r[1].explain().note.find("PARTIAL"), std::string::npos);
    velocity_options vo;
    vo.as_of = 150 * day;
    EXPECT_FALSE(velocity(o.view(false), p, vo)[1].partial);
}

// decompose_velocity checks its inputs with velocity_formula's routine: a win rate above 1,
// a negative or non-finite value is refused naming the row (before / after) and the field.
TEST(Velocity, DecomposeChecksInputsLikeTheFormula) {
    auto message = [](auto&& call) {
        try {
            call();
        } catch (const invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_THROW(velocity_formula(40, 25'000, 1.5, 90), invalid_argument);
    const std::string above = message([] { (void)decompose_velocity(40, 25'000, 0.25, 90, 50, 24'000, 1.5, 80); });
    EXPECT_NE(above.find("'after'"), std::string::npos) << above;
    EXPECT_NE(above.find("'win_rate'"), std::string::npos) << above;
    EXPECT_NE(above.find("1.5"), std::string::npos) << above;
    const std::string negative = message([] { (void)decompose_velocity(40, 25'000, -0.25, 90, 50, 24'000, 0.3, 80); });
    EXPECT_NE(negative.find("'before'"), std::string::npos) << negative;
    EXPECT_NE(negative.find("'win_rate'"), std::string::npos) << negative;
    const std::string nan = message([] { (void)decompose_velocity(40, std::nan(""), 0.25, 90, 50, 24'000, 0.3, 80); });
    EXPECT_NE(nan.find("'before'"), std::string::npos) << nan;
    EXPECT_NE(nan.find("'deal_value'"), std::string::npos) << nan;
    const std::string cycle = message([] { (void)decompose_velocity(40, 25'000, 0.25, 90, 50, 24'000, 0.3, INFINITY); });
    EXPECT_NE(cycle.find("'after'"), std::string::npos) << cycle;
    EXPECT_NE(cycle.find("'cycle_length'"), std::string::npos) << cycle;
    // A win rate of exactly 1 is valid for both.
    EXPECT_NO_THROW((void)decompose_velocity(40, 25'000, 1.0, 90, 50, 24'000, 1.0, 80));
    EXPECT_DOUBLE_EQ(velocity_formula(40, 25'000, 1.0, 100), 10'000.0);
}
