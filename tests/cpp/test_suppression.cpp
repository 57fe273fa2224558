#include <gtest/gtest.h>

#include <funnelkit/error.hpp>
#include <funnelkit/serialize.hpp>
#include <funnelkit/suppression.hpp>
#include <funnelkit/synthetic.hpp>

#include "error_testing.hpp"
#include "golden_testing.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace funnelkit;

namespace {
// Owning Arrow-layout string column.
struct strings {
    std::string data;
    std::vector<std::int64_t> offsets{0};
    explicit strings(const std::vector<std::string>& v) {
        for (const auto& s : v) data += s, offsets.push_back(static_cast<std::int64_t>(data.size()));
    }
    string_column col() const { return {std::span<const char>(data.data(), data.size()), offsets}; }
};

suppression_list example() {
    suppression_list s;
    s.add_id(17, "poor fit");
    s.add_id(42, "spam");
    s.add_id(17, "student");  // conflicting reason: both kept
    s.add_key("email_domain", "  Mailinator.COM ", "spam");
    s.add_key("email_domain", "bob@Student.Example.edu.", "student", key_transform::email_domain);
    s.add_key("company", "ACME corp", "poor fit");
    return s;
}
}  // namespace

TEST(Suppression, NormalisationRules) {
    EXPECT_EQ(normalise_key("  Foo@Bar.COM\t"), "foo@bar.com");
    EXPECT_EQ(normalise_key("  Foo@Bar.COM.\t", key_transform::email_domain), "bar.com");
    EXPECT_EQ(normalise_key("Example.ORG", key_transform::email_domain), "example.org");
    EXPECT_EQ(normalise_key("a@b@C.io", key_transform::email_domain), "c.io");
    EXPECT_EQ(normalise_key("ÄBC"), "Äbc");  // non-ASCII bytes unchanged
    EXPECT_EQ(normalise_key("   "), "");
    // Keys longer than one 8-byte word are hashed and compared in chunks.
    suppression_list s;
    s.add_key("email", "Some.Very.Long.Address@Sub.Domain.Example.COM", "spam");
    EXPECT_NE(s.key_reasons("email", " some.very.long.address@sub.domain.example.com "), 0u);
    EXPECT_EQ(s.key_reasons("email", "some.very.long.address@sub.domain.example.co"), 0u);
    EXPECT_EQ(s.key_reasons("email", "some.very.long.address@sub.domain.example.con"), 0u);
}

TEST(Suppression, CheckBatchSaysWhichAndWhy) {
    const auto s = example();
    EXPECT_EQ(s.n_ids(), 2u);
    EXPECT_EQ(s.n_keys(), 3u);
    EXPECT_EQ(s.reasons(), (std::vector<std::string>{"poor fit", "spam", "student"}));
    const std::vector<std::int64_t> ids{1, 17, 42, 5, 6, 7};
    const strings emails({"ann@mailinator.com", "x@y.z", "", "Joe@STUDENT.example.edu", "  ", "eve@acme.com"});
    const strings companies({"Other", "Other", "Other", "Other", " acme CORP ", "acme"});
    const std::vector<key_column> keys{{"email_domain", emails.col(), key_transform::email_domain},
                                       {"company", companies.col()}};
    const auto r = s.check(ids, keys);
    EXPECT_EQ(r.suppressed, (std::vector<std::uint8_t>{1, 1, 1, 1, 1, 0}));
    EXPECT_EQ(r.count, 5u);
    EXPECT_EQ(r.matched_by, (std::vector<std::uint32_t>{2, 1, 1, 2, 4, 0}));
    EXPECT_EQ(s.describe(r.reasons[0]), "spam");
    EXPECT_EQ(s.describe(r.reasons[1]), "poor fit; student");
    EXPECT_EQ(s.describe(r.reasons[3]), "student");
    EXPECT_EQ(s.describe(r.reasons[4]), "poor fit");
    EXPECT_EQ(r.reasons[5], 0u);
    // Keys only; an unknown kind matches nothing.
    const std::vector<key_column> unknown{{"phone", emails.col()}};
    EXPECT_EQ(s.check({}, unknown).count, 0u);
    EXPECT_EQ(s.check({}, std::span<const key_column>(keys.data(), 1)).count, 2u);
}

TEST(Suppression, AgainstReferenceOnRandomData) {
    std::mt19937_64 g(4);
    suppression_list s;
    std::map<std::int64_t, std::set<std::string>> ref_ids;
    std::map<std::string, std::set<std::string>> ref_keys;
    const std::vector<std::string> reasons{"spam", "poor fit", "student", "competitor"};
    auto rand_key = [&] {
        std::string k;
        const int len = 1 + static_cast<int>(g() % 20);
        for (int i = 0; i < len; ++i) k += "abcXYZ.-@"[g() % 9];
        return k;
    };
    for (int i = 0; i < 3000; ++i) {
        const auto& reason = reasons[g() % reasons.size()];
        const auto id = static_cast<std::int64_t>(g() % 5000) - 2500;
        s.add_id(id, reason);
        ref_ids[id].insert(reason);
        const std::string k = rand_key();
        if (normalise_key(k).empty()) continue;
        s.add_key("k", k, reason);
        ref_keys[normalise_key(k)].insert(reason);
    }
    std::vector<std::int64_t> ids;
    std::vector<std::string> keys;
    for (int i = 0; i < 20000; ++i) {
        ids.push_back(static_cast<std::int64_t>(g() % 6000) - 3000);
        keys.push_back(rand_key());
    }
    const strings col(keys);
    const std::vector<key_column> kc{{"k", col.col()}};
    const auto r = s.check(ids, kc);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        std::set<std::string> want;
        if (auto it = ref_ids.find(ids[i]); it != ref_ids.end()) want.insert(it->second.begin(), it->second.end());
        if (auto it = ref_keys.find(normalise_key(keys[i])); it != ref_keys.end()) want.insert(it->second.begin(), it->second.end());
        std::set<std::string> got;
        for (std::size_t b = 0; b < s.reasons().size(); ++b)
            if (r.reasons[i] >> b & 1) got.insert(s.reasons()[b]);
        ASSERT_EQ(got, want) << i;
        ASSERT_EQ(r.suppressed[i] != 0, !want.empty());
    }
}

TEST(Suppression, MergeIsOrderFreeAndSerialisationCanonical) {
    suppression_list a, b, c;
    a.add_id(1, "spam");
    a.add_key("email_domain", "x.com", "poor fit");
    b.add_id(1, "student");
    b.add_id(2, "poor fit");
    b.add_key("email_domain", "X.COM", "spam");
    c.add_key("company", "acme", "competitor");
    suppression_list ab = a;
    ab.merge(b);
    suppression_list ba = b;
    ba += a;
    EXPECT_EQ(ab, ba);
    EXPECT_EQ(ab.serialize(), ba.serialize());
    EXPECT_EQ(ab.describe(ab.id_reasons(1)), "spam; student");
    EXPECT_EQ(ba.describe(ba.id_reasons(1)), "student; spam");
    suppression_list abc1 = ab;
    abc1.merge(c);
    suppression_list bc = b;
    bc.merge(c);
    suppression_list abc2 = a;
    abc2.merge(bc);
    EXPECT_EQ(abc1, abc2);
    suppression_list id = abc1;
    id.merge(suppression_list{});
    EXPECT_EQ(id, abc1);
    EXPECT_FALSE(id == a);
    const auto blob = abc1.serialize();
    const auto back = suppression_list::deserialize(blob.data(), blob.size());
    EXPECT_EQ(back, abc1);
    EXPECT_EQ(back.describe(back.key_reasons("email_domain", "x.com")), "poor fit; spam");
    for (std::size_t cut = 0; cut < blob.size(); ++cut)
        EXPECT_THROW((void)suppression_list::deserialize(blob.data(), cut), invalid_argument) << cut;
    auto bad = blob;
    bad[4] = std::byte{9};
    EXPECT_THROW((void)suppression_list::deserialize(bad.data(), bad.size()), invalid_argument);
    bad = blob;
    bad.push_back(std::byte{0});
    EXPECT_THROW((void)suppression_list::deserialize(bad.data(), bad.size()), invalid_argument);
    id.reset();
    EXPECT_EQ(id, suppression_list{});
    EXPECT_EQ(id.n_ids(), 0u);
}

// tests/data/suppression_list_v1.bin holds example() serialised by format version 1; it must
// keep loading (and passes the checks of today's reader).
TEST(Suppression, GoldenBlobVersion1) {
    const auto bytes = funnelkit_testing::read_golden("suppression_list_v1.bin");
    ASSERT_FALSE(bytes.empty()) << "missing golden blob";
    EXPECT_EQ(suppression_list::deserialize(bytes.data(), bytes.size()), example());
}

// Format version 2 (checksummed): loads, is what the writer writes, and no flipped bit,
// truncation or extra byte of it loads.
TEST(Suppression, GoldenBlobVersion2) {
    funnelkit_testing::write_golden_if_asked("suppression_list_v2.bin", example().serialize());
    const auto golden = funnelkit_testing::read_golden("suppression_list_v2.bin");
    ASSERT_FALSE(golden.empty()) << "missing golden blob";
    EXPECT_EQ(suppression_list::deserialize(golden.data(), golden.size()), example());
    EXPECT_EQ(example().serialize(), golden);
    EXPECT_EQ(funnelkit_testing::corruptions_accepted<suppression_list>(golden), 0);
}

// Text is valid UTF-8 on the way in and on the way back; the canonical order is checked.
TEST(Suppression, TextIsUtf8AndBlobsAreCanonical) {
    suppression_list s;
    const std::string bad = "caf\xC3";  // truncated two-byte sequence
    const auto message = [](auto&& f) { return funnelkit_testing::error_of(f); };
    EXPECT_EQ(message([&] { s.add_id(1, bad); }), "option 'reason': value of 4 bytes is not valid UTF-8 (at byte 3)");
    EXPECT_EQ(message([&] { s.add_key("company", bad, "spam"); }),
              "option 'key': value of 4 bytes is not valid UTF-8 (at byte 3)");
    EXPECT_EQ(message([&] { s.add_key(bad, "x", "spam"); }), "option 'kind': value of 4 bytes is not valid UTF-8 (at byte 3)");
    const strings keys({"ok", bad});
    const std::vector<std::int32_t> codes{0, 0};
    const std::vector<std::string> names{"spam"};
    EXPECT_EQ(message([&] { s.add_keys({"company", keys.col()}, codes, names); }),
              "column 'key', row 1: value of 4 bytes is not valid UTF-8 (at byte 3)");
    EXPECT_EQ(s, suppression_list{});
    s.add_key("company", "Café", "spam");  // valid UTF-8 is kept as it is
    EXPECT_NE(s.key_reasons("company", "café"), 0u);
    // Blobs with a valid checksum: a string that is not UTF-8, ids out of order.
    auto blob = [](const std::vector<std::string>& reasons, const std::vector<std::int64_t>& ids) {
        funnelkit::detail::byte_writer w("FKSP", 2);
        w.put(static_cast<std::uint64_t>(reasons.size()));
        for (const auto& r : reasons) w.put(std::string_view(r));
        w.put(static_cast<std::uint64_t>(ids.size()));
        for (auto id : ids) w.put(id), w.put(std::uint64_t{1});
        w.put(std::uint64_t{0});
        return std::move(w).finish();
    };
    auto load = [&](const std::vector<std::byte>& b) {
        return message([&] { (void)suppression_list::deserialize(b.data(), b.size()); });
    };
    EXPECT_EQ(load(blob({"spam"}, {1, 2})), "<no error>");
    EXPECT_EQ(load(blob({bad}, {1})),
              "cannot deserialise suppression_list: string at byte 22 is not valid UTF-8 (at its byte 3)");
    EXPECT_EQ(load(blob({"spam"}, {2, 1})),
              "cannot deserialise suppression_list: ids are not in ascending order (1 after 2)");
    EXPECT_EQ(load(blob({"spam"}, {2, 2})),
              "cannot deserialise suppression_list: ids are not in ascending order (2 after 2)");
    EXPECT_EQ(load(blob({"spam", "fit"}, {})), "cannot deserialise suppression_list: reason names are not in ascending order");
}

TEST(Suppression, FromDisqualifiedRecordsOfTheSample) {
    const auto d = generate_sample({.leads = 2000, .seed = 5});
    const auto model = sample_model();
    suppression_list s;
    s.add_disqualified(model, d.records(), d.reason, sample_reasons());
    const auto dq = model.code_of("Disqualified");
    std::set<std::int64_t> want;
    for (std::size_t i = 0; i < d.size(); ++i)
        if (d.stage[i] == dq) want.insert(d.entity[i]);
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(s.n_ids(), want.size());
    for (auto e : want) EXPECT_TRUE(s.contains_id(e));
    for (const auto& r : s.reasons()) EXPECT_NE(std::find(sample_reasons().begin(), sample_reasons().end(), r), sample_reasons().end()) << r;
}

TEST(Suppression, BadInput) {
    suppression_list s;
    EXPECT_THROW(s.add_id(1, ""), invalid_argument);
    EXPECT_THROW(s.add_key("", "x", "spam"), invalid_argument);
    EXPECT_THROW(s.add_key("k", "   ", "spam"), invalid_argument);
    for (int i = 0; i < 64; ++i) s.add_id(i, "r" + std::to_string(i));
    EXPECT_THROW(s.add_id(99, "one too many"), invalid_argument);
    suppression_list t;
    t.add_id(1, "other");
    EXPECT_THROW(s.merge(t), invalid_argument);
    const std::vector<std::int64_t> ids{1, 2};
    const std::vector<std::int32_t> codes{0, 3};
    const std::vector<std::string> names{"a", "b"};
    suppression_list u;
    try {
        u.add_ids(ids, codes, names);
        FAIL();
    } catch (const invalid_argument& e) {
        EXPECT_STREQ(e.what(), "column 'reason', row 1: value 3 is not a reason code (expected 0..1)");
    }
    std::string data = "abc";
    const std::vector<std::int64_t> offs{0, 2, 9};
    const std::vector<key_column> kc{{"k", {std::span<const char>(data.data(), 3), offs}}};
    EXPECT_THROW((void)u.check({}, kc), invalid_argument);
    const std::vector<std::int64_t> three{1, 2, 3};
    const std::vector<std::int64_t> offs2{0, 1, 3};
    const std::vector<key_column> kc2{{"k", {std::span<const char>(data.data(), 3), offs2}}};
    EXPECT_THROW((void)u.check(three, kc2), invalid_argument);  // 3 ids, 2 keys
}
