#include <gtest/gtest.h>

#include "common/error.h"

TEST(Error, CarriesKindResultAndLocation) {
    try {
        r1vk::fail_input("model/config.json", "hidden_size: expected a positive integer");
        FAIL() << "fail_input returned";
    } catch (const r1vk::Error& e) {
        EXPECT_EQ(e.kind(), r1vk::ErrorKind::BadInput);
        EXPECT_EQ(e.exit_code(), 2);
        EXPECT_STREQ(e.what(), "model/config.json: hidden_size: expected a positive integer");
        EXPECT_EQ(e.vk_result(), 0);
        EXPECT_NE(std::string(e.file()).find("test_error.cpp"), std::string::npos);
        EXPECT_GT(e.line(), 0);
    }
}
