// base64 and the UTF-8 check that decide how a stream record carries output (ndjson_log.hpp).
#include "common/base64.hpp"

#include <gtest/gtest.h>

namespace lj {
namespace {

TEST(Base64Test, EncodesAsRfc4648sVectors) {
  // RFC 4648, section 10.
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Test, EveryByteValueRoundTrips) {
  std::string all(256, '\0');
  for (int i = 0; i < 256; ++i) all[i] = static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); ++n) {
    auto back = base64_decode(base64_encode(all.substr(0, n)));
    ASSERT_TRUE(back) << n;
    EXPECT_EQ(*back, all.substr(0, n)) << n;
  }
}

TEST(Base64Test, TextThatIsNotBase64IsRefused) {
  EXPECT_FALSE(base64_decode("Zg="));    // a length that is not a multiple of 4
  EXPECT_FALSE(base64_decode("Z!=="));   // outside the alphabet
  EXPECT_FALSE(base64_decode("Zh=="));   // padding bits set: not the canonical "Zg=="
  EXPECT_FALSE(base64_decode("Z==="));   // three pads
  EXPECT_FALSE(base64_decode("Zg==Zg==")); // padding inside
}

TEST(Utf8Test, WellFormedTextOnly) {
  EXPECT_TRUE(is_utf8(""));
  EXPECT_TRUE(is_utf8(std::string("a\0b", 3)));  // NUL is a character (\u0000 in JSON)
  EXPECT_TRUE(is_utf8("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // é € 😀
  EXPECT_FALSE(is_utf8("\xff"));
  EXPECT_FALSE(is_utf8("\x80"));               // a continuation byte first
  EXPECT_FALSE(is_utf8("\xc3"));               // cut short
  EXPECT_FALSE(is_utf8("\xc0\xaf"));           // overlong '/'
  EXPECT_FALSE(is_utf8("\xe0\x80\xaf"));       // overlong, 3 bytes
  EXPECT_FALSE(is_utf8("\xed\xa0\x80"));       // a surrogate (U+D800)
  EXPECT_FALSE(is_utf8("\xf4\x90\x80\x80"));   // past U+10FFFF
}

}  // namespace
}  // namespace lj
