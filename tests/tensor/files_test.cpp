// Whole-file reading: every byte, and an error that names the file.
#include "tensor/files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "tensor/errors.h"

namespace mwb {
namespace {

namespace fs = std::filesystem;

TEST(ReadFile, ReadsEveryByte) {
    const fs::path file = fs::temp_directory_path() / ("mwb-files-test-" + std::to_string(std::random_device{}()));
    const std::string bytes("a\0b\r\n\xff", 6);
    std::ofstream(file, std::ios::binary) << bytes;
    EXPECT_EQ(readFile(file), bytes);
    EXPECT_EQ(tryReadFile(file), bytes);
    std::ofstream(file, std::ios::binary | std::ios::trunc);
    EXPECT_EQ(readFile(file), "");
    fs::remove(file);
}

TEST(ReadFile, NamesAFileThatCannotBeOpened) {
    const fs::path missing = fs::temp_directory_path() / "mwb-files-test-missing" / "none.txt";
    EXPECT_FALSE(tryReadFile(missing).has_value());
    try {
        readFile(missing);
        FAIL() << "expected InvalidInput";
    } catch (const InvalidInput& e) {
        EXPECT_EQ(std::string(e.what()), "cannot read " + missing.string());
    }
    try {
        readFile(missing, "there is no checkpoint to resume from");
        FAIL() << "expected InvalidInput";
    } catch (const InvalidInput& e) {
        EXPECT_EQ(std::string(e.what()), "there is no checkpoint to resume from: cannot read " + missing.string());
    }
}

}  // namespace
}  // namespace mwb
