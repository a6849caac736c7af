#include <doctest/doctest.h>
#include <map>
#include <random>
#include <string>
#include <unordered_map>

#include "hearth/string_map.hpp"

using hearth::string_map;

namespace {

/// The map's entries in key order, to compare with a reference map.
std::map<std::string, int> contents(const string_map<int>& m) {
  std::map<std::string, int> out;
  for (const auto& [key, value] : m)
    CHECK(out.emplace(key, value).second); // each entry once
  return out;
}

std::map<std::string, int> contents(const std::unordered_map<std::string, int>& m) {
  return std::map<std::string, int>(m.begin(), m.end());
}

} // namespace

TEST_CASE("string_map: finds, inserts, assigns and erases like std::unordered_map") {
  string_map<int> m;
  CHECK(m.empty());
  CHECK(m.find("sbx_1") == m.end());
  CHECK_FALSE(m.contains("sbx_1"));

  auto [at, fresh] = m.try_emplace("sbx_1", 1);
  CHECK(fresh);
  CHECK(at->first == "sbx_1");
  CHECK(at->second == 1);
  CHECK_FALSE(m.try_emplace("sbx_1", 2).second); // kept, not replaced
  CHECK(m.at("sbx_1") == 1);
  m["sbx_2"] = 2;
  m.insert_or_assign("sbx_1", 10);
  CHECK(m.size() == 2);
  CHECK(m.at("sbx_1") == 10);
  CHECK(m.count(std::string("sbx_2")) == 1);
  CHECK_THROWS_AS(m.at("sbx_3"), std::out_of_range);

  CHECK(m.erase("sbx_3") == 0);
  CHECK(m.erase("sbx_1") == 1);
  CHECK(m.size() == 1);
  CHECK(m.find("sbx_1") == m.end());
  m.erase(m.find("sbx_2"));
  CHECK(m.empty());
  CHECK(m.begin() == m.end());
}

TEST_CASE("string_map: references survive growth, and erasing while iterating visits "
          "each entry once") {
  string_map<int> m;
  int& first = m["sandbox/sbx_00000"];
  first = 7;
  for (int i = 1; i < 5000; ++i)
    m["sandbox/sbx_" + std::to_string(i)] = i;
  CHECK(&m.at("sandbox/sbx_00000") == &first);
  CHECK(first == 7);

  int visited = 0;
  for (auto it = m.begin(); it != m.end();) {
    ++visited;
    it = it->second % 2 == 0 ? m.erase(it) : std::next(it);
  }
  CHECK(visited == 5000);
  CHECK(m.size() == 2501); // 7 and the odd 1..4999
  for (const auto& [key, value] : m)
    CHECK(value % 2 == 1);
}

TEST_CASE("string_map: copies and moves are independent tables") {
  string_map<int> a;
  for (int i = 0; i < 100; ++i)
    a["vm" + std::to_string(i)] = i;
  string_map<int> b = a;
  b["vm0"] = -1;
  b.erase("vm1");
  CHECK(a.at("vm0") == 0);
  CHECK(a.count("vm1") == 1);
  CHECK(b.size() == 99);

  string_map<int> c = std::move(a);
  CHECK(c.size() == 100);
  CHECK(a.empty()); // NOLINT(bugprone-use-after-move): moved-from is empty
  a["again"] = 1;   // and usable
  CHECK(a.size() == 1);
  c = b;
  CHECK(c.size() == 99);
  CHECK(c.at("vm0") == -1);
  c.clear();
  CHECK(c.empty());
  CHECK(c.find("vm2") == c.end());
  c["vm2"] = 2;
  CHECK(c.at("vm2") == 2);
}

TEST_CASE("string_map: random operations agree with std::unordered_map") {
  // Few distinct keys, so that inserts, erases and tombstones reuse the same
  // probe sequences; a tenth of the steps sweep the table erasing entries.
  std::mt19937 random(20261202);
  for (const int distinct : {8, 300, 5000}) {
    CAPTURE(distinct);
    string_map<int> m;
    std::unordered_map<std::string, int> reference;
    for (int step = 0; step < 40000; ++step) {
      const std::string key = "sbx_" + std::to_string(random() % distinct);
      const int value = static_cast<int>(random() % 1000);
      switch (random() % 10) {
      case 0:
      case 1:
      case 2:
        CHECK(m.try_emplace(key, value).second ==
              reference.try_emplace(key, value).second);
        break;
      case 3:
        m[key] = value;
        reference[key] = value;
        break;
      case 4:
      case 5:
        CHECK(m.erase(key) == reference.erase(key));
        break;
      case 6: {
        auto found = m.find(key);
        auto expected = reference.find(key);
        REQUIRE((found == m.end()) == (expected == reference.end()));
        if (found != m.end()) {
          CHECK(found->second == expected->second);
          m.erase(found);
          reference.erase(expected);
        }
        break;
      }
      case 7:
      case 8:
        CHECK(m.count(key) == reference.count(key));
        break;
      default:
        for (auto it = m.begin(); it != m.end();) {
          if (it->second % 3 == 0) {
            reference.erase(it->first);
            it = m.erase(it);
          } else {
            ++it;
          }
        }
        break;
      }
      REQUIRE(m.size() == reference.size());
    }
    CHECK(contents(m) == contents(reference));
  }
}
