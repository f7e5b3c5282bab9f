// A model file that cannot change silently (docs/file-format.md, "Checksums"): every
// byte flipped in a tensor's data is refused on load, naming the tensor; files without
// checksums stay readable; verifyModelFile names each damaged tensor. And a write that
// fails half-way (a full disk) leaves no file and no open HDF5 handle.
#include "io/hdf5_model_file.h"

#if __has_include(<hdf5.h>)
#include <hdf5.h>
#else
#include <hdf5/serial/hdf5.h>  // Debian keeps the serial HDF5 headers here
#endif

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "tensor/errors.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_models.h"

namespace mwb {
namespace {

namespace fs = std::filesystem;

// Where a contiguous float dataset's data lies in the file.
struct DataExtent {
    std::string path;
    haddr_t offset = 0;
    hsize_t bytes = 0;
};

std::vector<DataExtent> floatDatasets(const fs::path& file) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    EXPECT_GE(f, 0);
    std::vector<std::string> names;
#if H5_VERSION_GE(1, 12, 0)
    using ObjectInfo = H5O_info2_t;
#define VISIT H5Ovisit3
#else
    using ObjectInfo = H5O_info_t;
#define VISIT H5Ovisit2
#endif
    VISIT(
        f, H5_INDEX_NAME, H5_ITER_INC,
        [](hid_t, const char* name, const ObjectInfo* info, void* data) -> herr_t {
            if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(data)->push_back(std::string("/") + name);
            return 0;
        },
        &names, H5O_INFO_BASIC);
#undef VISIT
    std::vector<DataExtent> out;
    for (const std::string& name : names) {
        const hid_t d = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
        const hid_t t = H5Dget_type(d);
        if (H5Tget_class(t) == H5T_FLOAT) out.push_back({name, H5Dget_offset(d), H5Dget_storage_size(d)});
        H5Tclose(t);
        H5Dclose(d);
    }
    H5Fclose(f);
    return out;
}

void flipByte(const fs::path& file, std::streamoff at) {
    std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(at);
    char c = 0;
    io.read(&c, 1);
    c = char(c ^ 0x01);  // the smallest change: one bit
    io.seekp(at);
    io.write(&c, 1);
}

Model smallModel() {
    // One layer of width 4: a few thousand bytes of tensors, so that every byte is tried.
    return makeTinyModel(Architecture::Gpt2, 7, {.nLayers = 1, .dModel = 4, .nHeads = 1, .dFf = 8, .nCtx = 8});
}

int openHdf5Objects() { return int(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL)); }

// Flips bytes 0, step, 2 step, ... of every tensor's data in turn; each must be refused
// on load, naming the tensor. Returns how many were refused so.
size_t expectFlipsRefused(const fs::path& file, hsize_t step) {
    const std::vector<DataExtent> tensors = floatDatasets(file);
    EXPECT_GE(tensors.size(), 14u);  // embeddings, 12 in the block, the final norm, lm_head
    size_t refused = 0;
    for (const DataExtent& t : tensors) {
        EXPECT_NE(t.offset, HADDR_UNDEF) << t.path << " is not contiguous";
        if (t.offset == HADDR_UNDEF) continue;
        EXPECT_GT(t.bytes, 0u) << t.path;
        for (hsize_t i = 0; i < t.bytes; i += step) {
            flipByte(file, std::streamoff(t.offset + i));
            try {
                loadModel(file);
                ADD_FAILURE() << "a flipped byte " << i << " of " << t.path << " was not noticed";
            } catch (const ModelFormatError& e) {
                const bool named = e.hdf5Path() == t.path && std::string(e.what()).find("is damaged") != std::string::npos;
                if (named) ++refused;
                else ADD_FAILURE() << "byte " << i << " of " << t.path << ": " << e.what();
            }
            flipByte(file, std::streamoff(t.offset + i));
        }
    }
    EXPECT_NO_THROW(loadModel(file));  // every byte back as it was
    return refused;
}

class EveryFlippedByte : public testing::TestWithParam<StorageType> {};

TEST_P(EveryFlippedByte, IsRefusedOnLoadNamingTheTensor) {
    test::TempDir dir;
    saveModel(smallModel(), dir / "m.h5", GetParam());
    EXPECT_GT(expectFlipsRefused(dir / "m.h5", 1), 4000u);
}

INSTANTIATE_TEST_SUITE_P(StorageTypes, EveryFlippedByte, testing::Values(StorageType::Float32, StorageType::Float16));

// float64 hashes the doubles it reads (another path): one byte in 7, which meets every
// byte position of an 8-byte element, keeps the test short.
TEST(Checksums, FlippedBytesOfFloat64TensorsAreRefused) {
    test::TempDir dir;
    saveModel(smallModel(), dir / "m.h5", StorageType::Float64);
    EXPECT_GT(expectFlipsRefused(dir / "m.h5", 7), 2000u);
}

TEST(Checksums, AreXxh3OfTheStoredValuesReadableAsUnsigned64BitAttributes) {
    test::TempDir dir;
    const fs::path file = dir / "m.h5";
    const Model m = smallModel();
    saveModel(m, file, StorageType::Float32);
    // What docs/file-format.md specifies, computed here without the project's code.
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t d = H5Dopen2(f, "/blocks/0/mlp/down/weight", H5P_DEFAULT);
    const hid_t a = H5Aopen(d, "xxh3_64", H5P_DEFAULT);
    ASSERT_GE(a, 0);
    const hid_t type = H5Aget_type(a);
    EXPECT_EQ(H5Tget_class(type), H5T_INTEGER);
    EXPECT_EQ(H5Tget_size(type), 8u);
    EXPECT_EQ(H5Tget_sign(type), H5T_SGN_NONE);
    unsigned long long stored = 0;
    H5Aread(a, H5T_NATIVE_ULLONG, &stored);
    H5Tclose(type);
    H5Aclose(a);
    H5Dclose(d);
    H5Fclose(f);
    const Matrix& w = m.weights.blocks[0].down.weight;  // row-major [d_model, d_ff], as stored
    EXPECT_EQ(stored, XXH3_64bits(w.data(), size_t(w.size()) * sizeof(float)));
}

TEST(Checksums, FilesWithoutThemStayReadableAndSaySo) {
    test::TempDir dir;
    const fs::path file = dir / "m.h5";
    saveModel(smallModel(), file);
    const std::vector<DataExtent> tensors = floatDatasets(file);
    {
        const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        for (const DataExtent& t : tensors) EXPECT_GE(H5Adelete_by_name(f, t.path.c_str(), "xxh3_64", H5P_DEFAULT), 0);
        H5Fclose(f);
    }
    const Model m = loadModel(file);
    EXPECT_EQ(m.tensorsWithoutChecksum, int(tensors.size()));
    const ChecksumReport r = verifyModelFile(file);
    EXPECT_EQ(r.checked, 0);
    EXPECT_EQ(r.unchecked.size(), tensors.size());
    EXPECT_TRUE(r.damaged.empty());
    EXPECT_EQ(loadModel(dir / "m.h5").tensorsWithoutChecksum, m.tensorsWithoutChecksum);
    saveModel(m, dir / "again.h5");  // saving again adds them
    EXPECT_EQ(loadModel(dir / "again.h5").tensorsWithoutChecksum, 0);
}

TEST(Checksums, VerifyNamesEveryDamagedTensorAndNothingElse) {
    test::TempDir dir;
    const fs::path file = dir / "m.h5";
    saveModel(smallModel(), file);
    const std::vector<DataExtent> tensors = floatDatasets(file);
    ChecksumReport r = verifyModelFile(file);
    EXPECT_EQ(r.checked, int(tensors.size()));
    EXPECT_TRUE(r.unchecked.empty());
    EXPECT_TRUE(r.damaged.empty());
    const DataExtent* up = nullptr;
    const DataExtent* embed = nullptr;
    for (const DataExtent& t : tensors) {
        if (t.path == "/blocks/0/mlp/up/weight") up = &t;
        if (t.path == "/embed/token") embed = &t;
    }
    ASSERT_TRUE(up && embed);
    flipByte(file, std::streamoff(up->offset + 5));
    flipByte(file, std::streamoff(embed->offset + embed->bytes - 1));
    r = verifyModelFile(file);
    EXPECT_EQ(r.checked, int(tensors.size()) - 2);
    ASSERT_EQ(r.damaged.size(), 2u);
    EXPECT_EQ(r.damaged[0], file.string() + ": /blocks/0/mlp/up/weight is damaged: its data does not match its "
                                            "checksum (the file changed after it was written)");
    EXPECT_NE(r.damaged[1].find("/embed/token is damaged"), std::string::npos) << r.damaged[1];
}

// MWB_FAIL_WRITES makes a writer fail half-way, as a full disk does (atomic_file.h).
class InjectedWriteFailure {
public:
    explicit InjectedWriteFailure(const char* name) { setenv("MWB_FAIL_WRITES", name, 1); }
    ~InjectedWriteFailure() { unsetenv("MWB_FAIL_WRITES"); }
};

TEST(FailedWrite, LeavesNoFileAndNoOpenHandle) {
    test::TempDir dir;
    const int openBefore = openHdf5Objects();
    {
        InjectedWriteFailure failing("m.h5");
        try {
            saveModel(smallModel(), dir / "m.h5");
            FAIL() << "the write did not fail";
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()).rfind("no space left on ", 0), 0u) << e.what();
            EXPECT_NE(std::string(e.what()).find(" while writing " + (dir / "m.h5").string()), std::string::npos)
                << e.what();
        }
    }
    EXPECT_TRUE(fs::is_empty(dir.path())) << "a temporary file was left";
    EXPECT_EQ(openHdf5Objects(), openBefore);
    saveModel(smallModel(), dir / "m.h5");  // and the next write works
    EXPECT_NO_THROW(loadModel(dir / "m.h5"));
}

// The real thing where the test may mount a small file system (as root): HDF5 itself
// fails to write, and the file it had open must still be closed (a handle left open
// crashes HDF5's shutdown at exit).
TEST(FailedWrite, FullFileSystemIsOneSentenceAndLeavesNothing) {
    test::TempDir dir;
    const fs::path mountPoint = dir / "small";
    fs::create_directory(mountPoint);
    if (geteuid() != 0 || mount("tmpfs", mountPoint.c_str(), "tmpfs", 0, "size=64k") != 0)
        GTEST_SKIP() << "cannot mount a small tmpfs here (needs root)";
    const int openBefore = openHdf5Objects();
    const Model big = makeTinyModel(Architecture::Gpt2, 3, {.nLayers = 2, .dModel = 64, .nHeads = 4, .dFf = 256});
    std::string message;
    try {
        saveModel(big, mountPoint / "m.h5");
    } catch (const Error& e) {
        message = e.what();
    }
    const bool left = !fs::is_empty(mountPoint);
    umount(mountPoint.c_str());
    EXPECT_EQ(message, "no space left on " + mountPoint.string() + " while writing " + (mountPoint / "m.h5").string());
    EXPECT_FALSE(left) << "a temporary file was left";
    EXPECT_EQ(openHdf5Objects(), openBefore);
}

}  // namespace
}  // namespace mwb
