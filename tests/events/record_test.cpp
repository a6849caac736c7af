#include <doctest/doctest.h>

#include "hearth/events/checksum.hpp"
#include "hearth/events/record.hpp"

using namespace hearth::events;

namespace {

envelope sample_event() {
  envelope event;
  event.stream = "pool/twp_review_api_small";
  event.sequence = 7;
  event.position = 1234;
  event.type = "pool.member_ready";
  event.version = 2;
  event.timestamp_ns = 1'700'000'000'123'456'789;
  event.correlation_id = "req-42";
  event.payload = std::string("\x82\xa2id\x01\xa4name\xa3vm1", 14);
  return event;
}

std::string to_hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

} // namespace

TEST_CASE("crc32c matches the published check value") {
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c("") == 0u);
  // Continuing from a seed equals one pass over the whole input.
  CHECK(crc32c("56789", crc32c("1234")) == crc32c("123456789"));
}

TEST_CASE("a record decodes to the envelope it was encoded from") {
  std::string bytes;
  REQUIRE(encode_record(sample_event(), bytes));
  auto decoded = decode_record(bytes);
  REQUIRE(decoded);
  CHECK(*decoded == sample_event());
}

TEST_CASE("records of format 1 written by earlier builds stay readable") {
  // Bytes of sample_event() as format 1 wrote them. If this test fails, the
  // format changed: bump record_format_version and keep reading version 1.
  const std::string golden =
      "01a55a6287020000000700000000000000d20400000000000015cd853dfe9c971719"
      "00706f6f6c2f7477705f7265766965775f6170695f736d616c6c1100706f6f6c2e6d"
      "656d6265725f726561647906007265712d34320e00000082a2696401a46e616d65a3"
      "766d31";
  auto decoded = decode_record(from_hex(golden));
  REQUIRE_MESSAGE(decoded, (decoded ? "" : decoded.error().message));
  CHECK(*decoded == sample_event());
  std::string bytes;
  REQUIRE(encode_record(sample_event(), bytes));
  CHECK(to_hex(bytes) == golden);
}

TEST_CASE("flipping any single bit of a record is reported, never decoded silently") {
  std::string bytes;
  REQUIRE(encode_record(sample_event(), bytes));
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
      auto decoded = decode_record(damaged);
      REQUIRE_FALSE(decoded);
      const bool expected_code = decoded.error().code == errc::corrupt_record ||
                                 decoded.error().code == errc::unknown_format;
      CHECK(expected_code);
    }
  }
}

TEST_CASE("a truncated record or one with trailing bytes is corrupt") {
  std::string bytes;
  REQUIRE(encode_record(sample_event(), bytes));
  auto truncated = decode_record(std::string_view(bytes).substr(0, bytes.size() - 1));
  REQUIRE_FALSE(truncated);
  CHECK(truncated.error().code == errc::corrupt_record);
  auto short_header = decode_record(std::string_view(bytes).substr(0, 4));
  REQUIRE_FALSE(short_header);
  CHECK(short_header.error().code == errc::corrupt_record);
  auto longer = decode_record(bytes + "x");
  REQUIRE_FALSE(longer);
  CHECK(longer.error().code == errc::corrupt_record);
}

TEST_CASE("a record from a newer format version is named as such") {
  std::string bytes;
  REQUIRE(encode_record(sample_event(), bytes));
  bytes[0] = static_cast<char>(record_format_version + 1);
  auto decoded = decode_record(bytes);
  REQUIRE_FALSE(decoded);
  CHECK(decoded.error().code == errc::unknown_format);
  CHECK(decoded.error().message.find("format version 2") != std::string::npos);
}

TEST_CASE("encoding refuses names and payloads over the record's bounds") {
  auto event = sample_event();
  event.type.assign(max_name_size + 1, 't');
  std::string bytes;
  auto encoded = encode_record(event, bytes);
  REQUIRE_FALSE(encoded);
  CHECK(encoded.error().code == errc::too_large);
}
