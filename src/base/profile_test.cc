#include "base/profile.h"

#include <thread>

#include <gtest/gtest.h>

namespace dsv4::profile {
namespace {

const Entry* find(const std::vector<Entry>& v, const std::string& path) {
  for (const Entry& e : v)
    if (e.path == path) return &e;
  return nullptr;
}

class ProfileTest : public ::testing::Test {
 protected:
  void SetUp() override { reset(); }
  void TearDown() override {
    set_enabled(false);
    reset();
  }
};

TEST_F(ProfileTest, OffRecordsNothing) {
  set_enabled(false);
  { DSV4_PROFILE_SCOPE("test.off"); }
  EXPECT_TRUE(snapshot().empty());
}

TEST_F(ProfileTest, AccumulatesCallsAndTime) {
  set_enabled(true);
  for (int i = 0; i < 3; ++i) {
    DSV4_PROFILE_SCOPE("test.sleep");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const std::vector<Entry> snap = snapshot();  // find() points into it: keep it alive
  const Entry* e = find(snap, "test.sleep");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->calls, 3);
  EXPECT_EQ(e->depth, 0);
  EXPECT_GE(e->seconds, 0.006);
  EXPECT_LT(e->seconds, 1.0);
  reset();
  EXPECT_TRUE(snapshot().empty());
}

TEST_F(ProfileTest, NestedScopesRecordTheirPath) {
  set_enabled(true);
  {
    DSV4_PROFILE_SCOPE("outer");
    { DSV4_PROFILE_SCOPE("inner"); }
    { DSV4_PROFILE_SCOPE("inner"); }
  }
  { DSV4_PROFILE_SCOPE("inner"); }  // the same name at top level is another entry
  const std::vector<Entry> s = snapshot();
  ASSERT_EQ(s.size(), 3u);
  const Entry* nested = find(s, "outer/inner");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->calls, 2);
  EXPECT_EQ(nested->depth, 1);
  EXPECT_EQ(nested->name, "inner");
  ASSERT_NE(find(s, "inner"), nullptr);
  EXPECT_EQ(find(s, "inner")->calls, 1);
  EXPECT_GE(find(s, "outer")->seconds, nested->seconds);
}

TEST_F(ProfileTest, SameNameFromTwoSitesMerges) {
  set_enabled(true);
  const std::string dynamic = std::string("test.") + "merge";  // another address, same text
  { DSV4_PROFILE_SCOPE("test.merge"); }
  { Scope s(dynamic.c_str()); }
  const std::vector<Entry> snap = snapshot();
  const Entry* e = find(snap, "test.merge");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->calls, 2);
}

TEST_F(ProfileTest, ConcurrentScopesAreAllCounted) {
  set_enabled(true);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([] {
      for (int i = 0; i < 1000; ++i) {
        DSV4_PROFILE_SCOPE("test.mt");
        DSV4_PROFILE_SCOPE("test.mt.inner");
      }
    });
  for (auto& t : ts) t.join();
  const std::vector<Entry> s = snapshot();
  ASSERT_NE(find(s, "test.mt"), nullptr);
  EXPECT_EQ(find(s, "test.mt")->calls, 4000);
  ASSERT_NE(find(s, "test.mt/test.mt.inner"), nullptr);
  EXPECT_EQ(find(s, "test.mt/test.mt.inner")->calls, 4000);
}

}  // namespace
}  // namespace dsv4::profile
