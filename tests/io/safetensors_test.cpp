// safetensors reader and writer: byte-exact layout of written files, dtype conversion,
// and one test per malformed-file case, each giving one sentence that names the file and
// (where there is one) the tensor.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>

#include "tensor/bfloat16.h"
#include "tensor/errors.h"
#include "tensor/float16.h"
#include "tests/support/hf_folder.h"
#include "tests/support/tokenizer_test_util.h"

namespace mwb {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

// A file of: 8-byte little-endian `declaredLength` (default: the header's size), `header`,
// then `data`.
void writeRaw(const fs::path& file, const std::string& header, const std::string& data,
              std::optional<uint64_t> declaredLength = std::nullopt) {
    const uint64_t n = declaredLength.value_or(header.size());
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = char((n >> (8 * i)) & 0xff);
    test::writeText(file, bytes + header + data);
}

std::string floatsAsBytes(std::vector<float> v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

TEST(Safetensors, ReadsWhatAnotherWriterLaidOut) {
    // Written by hand as the format describes: an unpadded header, tensors out of order in
    // the data area, a 0-d scalar, metadata.
    TempDir dir;
    const std::string header =
        R"({"b":{"dtype":"F32","shape":[2,2],"data_offsets":[4,20]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
        R"("__metadata__":{"format":"pt"}})";
    writeRaw(dir / "x.safetensors", header, floatsAsBytes({9.5f, 1, 2, 3, 4}));
    const SafetensorsFile f(dir / "x.safetensors");
    EXPECT_EQ(f.names(), (std::vector<std::string>{"b", "s"}));
    EXPECT_EQ(f.metadata().at("format"), "pt");
    EXPECT_EQ(f.find("b")->shape, (std::vector<int64_t>{2, 2}));
    std::vector<float> b(4), s(1);
    f.read("b", b);
    f.read("s", s);
    EXPECT_EQ(b, (std::vector<float>{1, 2, 3, 4}));
    EXPECT_EQ(s[0], 9.5f);
}

TEST(Safetensors, WriterLayoutIsByteExact) {
    TempDir dir;
    const std::vector<float> a = {1.0f, -2.0f, 0.5f}, b = {3.0f};
    const SafetensorToWrite tensors[] = {{"a", {3}, a.data()}, {"b", {1, 1}, b.data()}};
    writeSafetensors(dir / "w.safetensors", tensors, TensorDtype::F16);
    const std::string bytes = test::readFile(dir / "w.safetensors");
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    EXPECT_EQ(n % 8, 0u);  // the data area starts 8-byte aligned
    const std::string header = bytes.substr(8, n);
    EXPECT_EQ(
        header.substr(0, header.find_last_not_of(' ') + 1),
        R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},)"
        R"("b":{"dtype":"F16","shape":[1,1],"data_offsets":[6,8]}})");
    // Half floats, little-endian: 1 = 0x3c00, -2 = 0xc000, 0.5 = 0x3800, 3 = 0x4200.
    EXPECT_EQ(bytes.substr(8 + n), std::string("\x00\x3c\x00\xc0\x00\x38\x00\x42", 8));
}

TEST(Safetensors, ConvertsEveryDtypeOnRead) {
    TempDir dir;
    const std::vector<float> values = {0.1f, -3.75f, 65504.0f, 1e-6f, 1.0f + 0x1p-8f};
    for (TensorDtype dtype : {TensorDtype::F32, TensorDtype::F16, TensorDtype::BF16}) {
        const SafetensorToWrite t[] = {{"x", {5}, values.data()}};
        writeSafetensors(dir / "d.safetensors", t, dtype);
        std::vector<float> got(5);
        SafetensorsFile(dir / "d.safetensors").read("x", got);
        for (size_t i = 0; i < values.size(); ++i)
            EXPECT_EQ(got[i], test::roundTo(dtype, values[i])) << dtypeName(dtype);
    }
    // F64 is read too.
    const double d[] = {0.25, -3.5};
    writeRaw(dir / "f64.safetensors", R"({"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})",
             std::string(reinterpret_cast<const char*>(d), 16));
    std::vector<float> got(2);
    SafetensorsFile(dir / "f64.safetensors").read("x", got);
    EXPECT_EQ(got[0], 0.25f);
    EXPECT_EQ(got[1], -3.5f);
    // Chunked conversion: more elements than one read chunk.
    std::vector<float> big(200000);
    for (size_t i = 0; i < big.size(); ++i) big[i] = float(i % 1000) * 0.5f;
    const SafetensorToWrite t[] = {{"big", {400, 500}, big.data()}};
    writeSafetensors(dir / "big.safetensors", t, TensorDtype::BF16);
    std::vector<float> back(big.size());
    SafetensorsFile(dir / "big.safetensors").read("big", back);
    for (size_t i = 0; i < big.size(); i += 997)
        EXPECT_EQ(back[i], test::roundTo(TensorDtype::BF16, big[i]));
    EXPECT_EQ(back.back(), test::roundTo(TensorDtype::BF16, big.back()));
}

// The ModelFormatError of opening (and, if that works, reading tensor "x" of) a file.
struct Failure {
    fs::path file;
    std::string tensor;
    std::string message;
};

Failure failureOf(const fs::path& file) {
    try {
        SafetensorsFile f(file);
        std::vector<float> out(size_t(f.find("x") ? f.find("x")->elementCount() : 0));
        f.read("x", out);
    } catch (const ModelFormatError& e) {
        return {e.file(), e.hdf5Path(), e.what()};
    }
    ADD_FAILURE() << file << " was accepted";
    return {};
}

void expectFailure(const fs::path& file, const std::string& tensor, const std::string& phrase) {
    const Failure f = failureOf(file);
    EXPECT_EQ(f.file, file);
    EXPECT_EQ(f.tensor, tensor);
    EXPECT_NE(f.message.find(phrase), std::string::npos) << f.message;
    EXPECT_EQ(f.message.find('\n'), std::string::npos) << f.message;
    EXPECT_EQ(f.message.find(file.string()), 0u) << f.message;
}

TEST(SafetensorsErrors, FileShorterThanTheLengthField) {
    TempDir dir;
    test::writeText(dir / "a.safetensors", "abc");
    expectFailure(dir / "a.safetensors", "", "too short");
}

TEST(SafetensorsErrors, HeaderLengthLargerThanTheFile) {
    TempDir dir;
    writeRaw(dir / "a.safetensors", R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
             "abcd", 1u << 20);
    expectFailure(dir / "a.safetensors", "", "declares a header of 1048576 bytes");
    // A length near 2^64 must not overflow the check.
    writeRaw(dir / "b.safetensors", "{}", "", ~uint64_t(0));
    expectFailure(dir / "b.safetensors", "", "declares a header of");
}

TEST(SafetensorsErrors, HeaderThatIsNotJson) {
    TempDir dir;
    writeRaw(dir / "a.safetensors", "{\"x\": [1, 2", "");
    expectFailure(dir / "a.safetensors", "", "not a JSON object");
    writeRaw(dir / "b.safetensors", "[1, 2]", "");
    expectFailure(dir / "b.safetensors", "", "not a JSON object");
}

TEST(SafetensorsErrors, OffsetsOutsideTheDataArea) {
    TempDir dir;
    writeRaw(dir / "a.safetensors", R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
             floatsAsBytes({1, 2}));
    expectFailure(dir / "a.safetensors", "x", "outside the data area of 8 bytes");
    writeRaw(dir / "b.safetensors", R"({"x":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})",
             floatsAsBytes({1, 2}));
    expectFailure(dir / "b.safetensors", "x", "end before they begin");
}

TEST(SafetensorsErrors, OverlappingTensors) {
    TempDir dir;
    writeRaw(
        dir / "a.safetensors",
        R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"x":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
        floatsAsBytes({1, 2, 3}));
    expectFailure(dir / "a.safetensors", "x", "overlaps tensor w");
}

TEST(SafetensorsErrors, UnknownDtype) {
    TempDir dir;
    writeRaw(dir / "a.safetensors", R"({"x":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}})",
             floatsAsBytes({1}));
    expectFailure(dir / "a.safetensors", "x", "unknown dtype 'F17'");
}

TEST(SafetensorsErrors, KnownDtypeThatCannotBeImported) {
    TempDir dir;
    writeRaw(dir / "a.safetensors", R"({"x":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})",
             floatsAsBytes({1}));
    expectFailure(dir / "a.safetensors", "x", "has dtype I32; only F32, F16, BF16 and F64");
}

TEST(SafetensorsErrors, ShapeTimesDtypeSizeDoesNotMatchTheByteRange) {
    TempDir dir;
    writeRaw(dir / "a.safetensors", R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
             floatsAsBytes({1, 2}));
    expectFailure(
        dir / "a.safetensors", "x",
        "has shape [3] of dtype F32 (12 bytes), but its data_offsets [0, 8] span 8 bytes");
    // A shape whose element count overflows 64 bits.
    writeRaw(dir / "b.safetensors",
             R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})",
             floatsAsBytes({1, 2}));
    expectFailure(dir / "b.safetensors", "x", "absurdly large shape");
}

TEST(SafetensorsErrors, MalformedEntries) {
    TempDir dir;
    writeRaw(dir / "a.safetensors", R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})",
             floatsAsBytes({1}));
    expectFailure(dir / "a.safetensors", "x", "not a non-negative integer");
    writeRaw(dir / "b.safetensors", R"({"x":{"dtype":"F32","shape":[1]}})", floatsAsBytes({1}));
    expectFailure(dir / "b.safetensors", "x", "no data_offsets");
    writeRaw(dir / "c.safetensors", R"({"x":{"shape":[1],"data_offsets":[0,4]}})",
             floatsAsBytes({1}));
    expectFailure(dir / "c.safetensors", "x", "no dtype");
    writeRaw(dir / "d.safetensors", R"({"x":7})", "");
    expectFailure(dir / "d.safetensors", "x", "not a JSON object");
}

TEST(SafetensorsErrors, MissingTensorOnRead) {
    TempDir dir;
    writeRaw(dir / "a.safetensors", R"({"y":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
             floatsAsBytes({1}));
    std::vector<float> out(1);
    try {
        SafetensorsFile(dir / "a.safetensors").read("x", out);
        FAIL() << "missing tensor accepted";
    } catch (const ModelFormatError& e) {
        EXPECT_EQ(e.hdf5Path(), "x");
        EXPECT_NE(std::string(e.what()).find("not in the file"), std::string::npos);
    }
}

TEST(SafetensorsErrors, FileTruncatedAfterOpening) {
    TempDir dir;
    writeRaw(dir / "a.safetensors", R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
             floatsAsBytes({1, 2}));
    SafetensorsFile f(dir / "a.safetensors");
    fs::resize_file(dir / "a.safetensors", fs::file_size(dir / "a.safetensors") - 4);
    std::vector<float> out(2);
    EXPECT_THROW(f.read("x", out), ModelFormatError);
}

}  // namespace
}  // namespace mwb
