// Model files (docs/file-format.md): round trips for both architectures and all
// storage types, tokenizer and edits, an h5py-written fixture, and one test per
// ModelFormatError case (bad files are made with the HDF5 C API).
#include "io/hdf5_model_file.h"

#include "io/model_checks.h"

#if __has_include(<hdf5.h>)
#include <hdf5.h>
#else
#include <hdf5/serial/hdf5.h>  // Debian keeps the serial HDF5 headers here
#endif

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <tuple>

#include "tensor/errors.h"
#include "tensor/float16.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_models.h"

namespace mwb {
namespace {

namespace fs = std::filesystem;

using TempFolder = test::TempDir;

// ---------------------------------------------------------------------------------------
// Direct HDF5 edits, to make damaged files.

class H5Edit {
public:
    explicit H5Edit(const fs::path& file) {
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        m_file = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        EXPECT_GE(m_file, 0) << file;
    }
    ~H5Edit() { H5Fclose(m_file); }

    void remove(const std::string& path) { EXPECT_GE(H5Ldelete(m_file, path.c_str(), H5P_DEFAULT), 0) << path; }
    void removeAttribute(const std::string& obj, const std::string& name) {
        EXPECT_GE(H5Adelete_by_name(m_file, obj.c_str(), name.c_str(), H5P_DEFAULT), 0) << name;
    }
    void setInt(const std::string& obj, const std::string& name, long long value) {
        writeAttribute(obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &value);
    }
    void setString(const std::string& obj, const std::string& name, const std::string& value) {
        hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, H5T_VARIABLE);
        H5Tset_cset(type, H5T_CSET_UTF8);
        const char* p = value.c_str();
        writeAttribute(obj, name, type, type, &p);
        H5Tclose(type);
    }
    // Replaces (or creates) a float32 dataset.
    void setFloats(const std::string& path, const std::vector<hsize_t>& dims,
                   const std::vector<float>& values) {
        replace(path, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, values.data());
    }
    void setInts(const std::string& path, const std::vector<hsize_t>& dims) {
        hsize_t n = 1;
        for (hsize_t d : dims) n *= d;
        std::vector<int> values(n, 1);
        replace(path, dims, H5T_STD_I32LE, H5T_NATIVE_INT, values.data());
    }
    // Replaces a dataset by one of enormous declared shape whose chunks are never
    // written: the file stays small.
    void setHuge(const std::string& path, const std::vector<hsize_t>& dims, hid_t type) {
        if (H5Lexists(m_file, path.c_str(), H5P_DEFAULT) > 0) remove(path);
        hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        std::vector<hsize_t> chunk(dims.size(), 1);
        H5Pset_chunk(dcpl, int(chunk.size()), chunk.data());
        hid_t d = H5Dcreate2(m_file, path.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        EXPECT_GE(d, 0) << path;
        H5Dclose(d);
        H5Pclose(dcpl);
        H5Sclose(space);
    }
    void setStrings(const std::string& path, const std::vector<std::string>& values) {
        if (H5Lexists(m_file, path.c_str(), H5P_DEFAULT) > 0) remove(path);
        hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, H5T_VARIABLE);
        H5Tset_cset(type, H5T_CSET_UTF8);
        const hsize_t n = values.size();
        hid_t space = H5Screate_simple(1, &n, nullptr);
        hid_t d = H5Dcreate2(m_file, path.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        std::vector<const char*> pointers;
        for (const auto& s : values) pointers.push_back(s.c_str());
        EXPECT_GE(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), 0);
        H5Dclose(d);
        H5Sclose(space);
        H5Tclose(type);
    }
    void createGroup(const std::string& path) {
        hid_t g = H5Gcreate2(m_file, path.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        EXPECT_GE(g, 0) << path;
        H5Gclose(g);
    }
    void move(const std::string& from, const std::string& to) {
        EXPECT_GE(H5Lmove(m_file, from.c_str(), m_file, to.c_str(), H5P_DEFAULT, H5P_DEFAULT), 0);
    }
    // Overwrites one float16 element (flat index) of an existing float16 dataset.
    void pokeHalf(const std::string& path, hsize_t flatIndex, uint16_t bits) {
        hid_t d = H5Dopen2(m_file, path.c_str(), H5P_DEFAULT);
        hid_t type = H5Dget_type(d);
        hid_t space = H5Dget_space(d);
        std::vector<hsize_t> dims(H5Sget_simple_extent_ndims(space));
        H5Sget_simple_extent_dims(space, dims.data(), nullptr);
        std::vector<hsize_t> coord(dims.size());
        for (size_t i = dims.size(); i-- > 0;) {
            coord[i] = flatIndex % dims[i];
            flatIndex /= dims[i];
        }
        H5Sselect_elements(space, H5S_SELECT_SET, 1, coord.data());
        const hsize_t one = 1;
        hid_t mem = H5Screate_simple(1, &one, nullptr);
        EXPECT_GE(H5Dwrite(d, type, mem, space, H5P_DEFAULT, &bits), 0);
        H5Sclose(mem);
        H5Sclose(space);
        H5Tclose(type);
        H5Dclose(d);
    }
    std::vector<hsize_t> dims(const std::string& path) {
        hid_t d = H5Dopen2(m_file, path.c_str(), H5P_DEFAULT);
        hid_t space = H5Dget_space(d);
        std::vector<hsize_t> out(std::max(0, H5Sget_simple_extent_ndims(space)));
        H5Sget_simple_extent_dims(space, out.data(), nullptr);
        H5Sclose(space);
        H5Dclose(d);
        return out;
    }
    bool hasAttribute(const std::string& obj, const std::string& name) {
        return H5Aexists_by_name(m_file, obj.c_str(), name.c_str(), H5P_DEFAULT) > 0;
    }

private:
    void writeAttribute(const std::string& obj, const std::string& name, hid_t fileType,
                        hid_t memType, const void* data) {
        if (hasAttribute(obj, name)) removeAttribute(obj, name);
        hid_t space = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate_by_name(m_file, obj.c_str(), name.c_str(), fileType, space,
                                    H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        EXPECT_GE(H5Awrite(a, memType, data), 0) << name;
        H5Aclose(a);
        H5Sclose(space);
    }
    void replace(const std::string& path, const std::vector<hsize_t>& dims, hid_t fileType,
                 hid_t memType, const void* data) {
        if (H5Lexists(m_file, path.c_str(), H5P_DEFAULT) > 0) remove(path);
        hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
        hid_t d = H5Dcreate2(m_file, path.c_str(), fileType, space, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
        EXPECT_GE(H5Dwrite(d, memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0) << path;
        H5Dclose(d);
        H5Sclose(space);
    }

    hid_t m_file = -1;
};

// ---------------------------------------------------------------------------------------
// Helpers

// loadModel(file) must throw a ModelFormatError for `hdf5Path` whose message names the
// file and the path and contains `fragment`.
void expectLoadError(const fs::path& file, const std::string& hdf5Path, const std::string& fragment,
                     const LoadOptions& options = {}) {
    try {
        loadModel(file, options);
        ADD_FAILURE() << "loaded " << file << " without error; expected a problem with " << hdf5Path;
    } catch (const ModelFormatError& e) {
        const std::string message = e.what();
        EXPECT_EQ(e.file(), file);
        EXPECT_EQ(e.hdf5Path(), hdf5Path) << message;
        EXPECT_EQ(message.rfind(file.string() + ": ", 0), 0u) << message;
        EXPECT_NE(message.find(hdf5Path), std::string::npos) << message;
        EXPECT_NE(message.find(fragment), std::string::npos) << message;
        EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
}

// Every tensor of `b` equals `transform(a)` elementwise, with the same shapes.
template <typename Transform>
void expectWeightsEqual(const ModelConfig& c, const Weights& a, const Weights& b, Transform transform) {
    std::vector<std::pair<std::string, const float*>> tensorsA;
    std::vector<std::tuple<std::string, long, long>> shapesA;
    forEachTensor(c, a, [&](const std::string& path, const auto& t) {
        tensorsA.emplace_back(path, t.data());
        shapesA.emplace_back(path, t.rows(), t.cols());
    });
    size_t k = 0;
    forEachTensor(c, b, [&](const std::string& path, const auto& t) {
        ASSERT_LT(k, tensorsA.size());
        ASSERT_EQ(std::get<0>(shapesA[k]), path);
        ASSERT_EQ(std::get<1>(shapesA[k]), t.rows()) << path;
        ASSERT_EQ(std::get<2>(shapesA[k]), t.cols()) << path;
        const float* x = tensorsA[k].second;
        for (Eigen::Index i = 0; i < t.size(); ++i)
            ASSERT_EQ(transform(x[i]), t.data()[i]) << path << " element " << i;
        ++k;
    });
    EXPECT_EQ(k, tensorsA.size());
}

void expectConfigEqual(const ModelConfig& a, const ModelConfig& b) {
    EXPECT_EQ(a.architecture, b.architecture);
    EXPECT_EQ(a.nLayers, b.nLayers);
    EXPECT_EQ(a.nHeads, b.nHeads);
    EXPECT_EQ(a.nKvHeads, b.nKvHeads);
    EXPECT_EQ(a.dModel, b.dModel);
    EXPECT_EQ(a.dFf, b.dFf);
    EXPECT_EQ(a.vocabSize, b.vocabSize);
    EXPECT_EQ(a.nCtx, b.nCtx);
    EXPECT_EQ(a.normEps, b.normEps);
    EXPECT_EQ(a.activation, b.activation);
    EXPECT_EQ(a.ropeTheta, b.ropeTheta);
    EXPECT_EQ(a.tieEmbeddings, b.tieEmbeddings);
    EXPECT_EQ(a.name, b.name);
}

void expectTokenizerEqual(const TokenizerSpec& a, const TokenizerSpec& b) {
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.bosId, b.bosId);
    EXPECT_EQ(a.eosId, b.eosId);
    EXPECT_EQ(a.addBos, b.addBos);
    EXPECT_EQ(a.vocab, b.vocab);
    EXPECT_EQ(a.merges, b.merges);
    EXPECT_EQ(a.scores, b.scores);
}

// An edit of mlp/down at `layers` with factors of the given ranks.
EditRecord makeEdit(const ModelConfig& c, std::vector<int> layers, std::vector<int> ranks,
                    uint64_t seed) {
    std::mt19937 rng{uint32_t(seed)};
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    EditRecord e;
    e.method = layers.size() == 1 ? "rome" : "memit";
    e.layers = std::move(layers);
    e.subject = "Danielle Darrieux";
    e.prompt = "The mother tongue of {} is";
    e.targetNew = " English";
    e.targetTrue = " French";
    e.created = "2024-06-01T12:00:00Z";
    for (int r : ranks) {
        e.left.push_back(Matrix::NullaryExpr(c.dModel, r, [&] { return u(rng); }));
        e.right.push_back(Matrix::NullaryExpr(c.dFf, r, [&] { return u(rng); }));
    }
    return e;
}

Matrix deltaW(const EditRecord& e, size_t j) { return e.left[j] * e.right[j].transpose(); }

// A saved tiny gpt2 model with float32 weights, to be damaged by a test.
fs::path savedModel(const TempFolder& folder, Architecture a = Architecture::Gpt2,
                    StorageType storage = StorageType::Float32, const std::string& name = "model.h5") {
    const fs::path file = folder / name;
    Model m = makeTinyModel(a, 7);
    m.edits.push_back(makeEdit(m.config, {1}, {1}, 3));
    saveModel(m, file, storage);
    return file;
}

// ---------------------------------------------------------------------------------------
// Round trips

using RoundTripParam = std::tuple<Architecture, StorageType, bool>;

class ModelFileRoundTrip : public ::testing::TestWithParam<RoundTripParam> {};

TEST_P(ModelFileRoundTrip, KeepsConfigWeightsAndTokenizer) {
    const auto [architecture, storage, tied] = GetParam();
    TempFolder folder;
    const fs::path file = folder / "model.h5";
    TinyModelOptions options;
    options.tieEmbeddings = tied;
    Model original = makeTinyModel(architecture, 42, options);
    original.weights.blocks[1].down.weight(3, 5) = 1234.5f;  // a "super weight"
    saveModel(original, file, storage);

    const Model loaded = loadModel(file);
    EXPECT_EQ(loaded.path, file);
    expectConfigEqual(original.config, loaded.config);
    if (storage == StorageType::Float16) {
        // Stored with round-to-nearest-even; reading is exact.
        expectWeightsEqual(original.config, original.weights, loaded.weights,
                           [](float x) { return halfToFloat(floatToHalf(x)); });
    } else {
        expectWeightsEqual(original.config, original.weights, loaded.weights, [](float x) { return x; });
    }
    expectTokenizerEqual(original.tokenizer.spec(), loaded.tokenizer.spec());
    EXPECT_TRUE(loaded.edits.empty());
    EXPECT_EQ(loaded.weights.lmHead.size() == 0, tied);
}

std::string roundTripName(const ::testing::TestParamInfo<RoundTripParam>& info) {
    const auto [architecture, storage, tied] = info.param;
    const char* storageName = storage == StorageType::Float16   ? "float16"
                              : storage == StorageType::Float32 ? "float32"
                                                                : "float64";
    return toString(architecture) + "_" + storageName + (tied ? "_tied" : "_untied");
}

INSTANTIATE_TEST_SUITE_P(ModelFile, ModelFileRoundTrip,
                         ::testing::Combine(::testing::Values(Architecture::Gpt2, Architecture::Llama),
                                            ::testing::Values(StorageType::Float32,
                                                              StorageType::Float16,
                                                              StorageType::Float64),
                                            ::testing::Bool()),
                         roundTripName);

TEST(ModelFile, Float16StorageIsWithinHalfPrecision) {
    TempFolder folder;
    const Model original = makeTinyModel(Architecture::Llama, 5);
    saveModel(original, folder / "m.h5", StorageType::Float16);
    const Model loaded = loadModel(folder / "m.h5");
    const auto& a = original.weights.blocks[0].gate.weight;
    const auto& b = loaded.weights.blocks[0].gate.weight;
    const float relative = ((a - b).array().abs() / a.array().abs().max(1e-4f)).maxCoeff();
    EXPECT_LE(relative, 1.0f / 2048.0f);
    EXPECT_GT((a - b).cwiseAbs().maxCoeff(), 0.0f);  // really stored as half
}

// Large models keep their linear weights in float16 (LoadOptions); mlp/down stays
// float32 because editing changes it in place.
TEST(ModelFile, Float16WeightsAreKeptAsStoredAndSavedWithoutLoss) {
    TempFolder folder;
    const fs::path file = savedModel(folder, Architecture::Llama, StorageType::Float16);
    const Model asFloat = loadModel(file);  // a tiny model: float32 by default
    EXPECT_FALSE(hasHalfWeights(asFloat.weights));
    const Model half = loadModel(file, {WeightPrecision::Float16});
    const auto& b = half.weights.blocks[1];
    ASSERT_TRUE(b.gate.isHalf());
    EXPECT_EQ(b.gate.weight.size(), 0);
    EXPECT_FALSE(b.down.isHalf());
    EXPECT_EQ(b.gate.weightHalf.bits, HalfMatrix::fromFloat(asFloat.weights.blocks[1].gate.weight).bits);
    expectWeightsEqual(asFloat.config, asFloat.weights, castWeights<float>(half.weights), [](float x) { return x; });

    // Saved again (float16 or float32), the values do not change; the weights kept in
    // float16 stay float16 in the file (the float32 copy would add nothing).
    for (StorageType storage : {StorageType::Float16, StorageType::Float32}) {
        const fs::path again = folder / "again.h5";
        saveModel(half, again, storage, true);
        const Model back = loadModel(again);
        expectWeightsEqual(asFloat.config, asFloat.weights, back.weights, [](float x) { return x; });
    }
}

TEST(ModelFile, Float32WeightsCanBeKeptInFloat16) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    const Model full = loadModel(file);
    const Model half = loadModel(file, {WeightPrecision::Float16});
    EXPECT_EQ(half.weights.blocks[0].q.weightHalf.bits, HalfMatrix::fromFloat(full.weights.blocks[0].q.weight).bits);
    EXPECT_EQ(half.weights.blocks[0].down.weight, full.weights.blocks[0].down.weight);
}

TEST(ModelFile, SentencePieceTokenizerRoundTrip) {
    TempFolder folder;
    TinyModelOptions options;
    options.sentencePiece = true;
    const Model original = makeTinyModel(Architecture::Llama, 9, options);
    saveModel(original, folder / "m.h5");
    const Model loaded = loadModel(folder / "m.h5");
    expectTokenizerEqual(original.tokenizer.spec(), loaded.tokenizer.spec());
    EXPECT_EQ(loaded.tokenizer.spec().kind, TokenizerKind::SentencePieceBpe);
    EXPECT_EQ(loaded.tokenizer.spec().scores.size(), size_t(loaded.config.vocabSize));
    H5Edit h5(folder / "m.h5");
    EXPECT_EQ(h5.dims("/tokenizer/scores"), std::vector<hsize_t>{hsize_t(loaded.config.vocabSize)});
}

TEST(ModelFile, EditsRoundTripWithSpecLayoutForRankOne) {
    TempFolder folder;
    Model m = makeTinyModel(Architecture::Gpt2, 11, {.nLayers = 3});
    m.edits.push_back(makeEdit(m.config, {1}, {1}, 1));        // ROME: rank one
    m.edits.push_back(makeEdit(m.config, {2}, {3}, 2));        // one layer, rank 3
    m.edits.push_back(makeEdit(m.config, {0, 2}, {2, 1}, 3));  // MEMIT, ranks differ
    saveModel(m, folder / "m.h5");

    {
        H5Edit h5(folder / "m.h5");
        EXPECT_EQ(h5.dims("/edits/0/left"), std::vector<hsize_t>{16});
        EXPECT_EQ(h5.dims("/edits/0/right"), std::vector<hsize_t>{32});
        EXPECT_TRUE(h5.hasAttribute("/edits/0", "layer"));
        EXPECT_FALSE(h5.hasAttribute("/edits/0", "layers"));
        EXPECT_EQ(h5.dims("/edits/1/left"), (std::vector<hsize_t>{16, 3}));
        EXPECT_EQ(h5.dims("/edits/2/left"), (std::vector<hsize_t>{2, 16, 2}));
        EXPECT_EQ(h5.dims("/edits/2/right"), (std::vector<hsize_t>{2, 32, 2}));
        EXPECT_TRUE(h5.hasAttribute("/edits/2", "layers"));
    }

    const Model loaded = loadModel(folder / "m.h5");
    ASSERT_EQ(loaded.edits.size(), 3u);
    for (size_t n = 0; n < 3; ++n) {
        const EditRecord& a = m.edits[n];
        const EditRecord& b = loaded.edits[n];
        EXPECT_EQ(a.method, b.method);
        EXPECT_EQ(a.layers, b.layers);
        EXPECT_EQ(a.subject, b.subject);
        EXPECT_EQ(a.prompt, b.prompt);
        EXPECT_EQ(a.targetNew, b.targetNew);
        EXPECT_EQ(a.targetTrue, b.targetTrue);
        EXPECT_EQ(a.created, b.created);
        ASSERT_EQ(b.left.size(), a.layers.size());
        for (size_t j = 0; j < a.layers.size(); ++j)
            EXPECT_EQ(deltaW(a, j), deltaW(b, j)) << "edit " << n << " layer " << j;
    }
    EXPECT_EQ(loaded.edits[0].left[0], m.edits[0].left[0]);
    EXPECT_EQ(loaded.edits[2].left[1].cols(), 2);  // padded to the common rank
}

TEST(ModelFile, EditBeforeWeightsRoundTripInModelPrecision) {
    for (StorageType storage : {StorageType::Float32, StorageType::Float16}) {
        TempFolder folder;
        Model m = makeTinyModel(Architecture::Llama, 4);
        EditRecord e = makeEdit(m.config, {0, 1}, {1, 1}, 5);
        e.before = {m.weights.blocks[0].down.weight, m.weights.blocks[1].down.weight};
        m.edits.push_back(e);
        saveModel(m, folder / "m.h5", storage);
        {
            H5Edit h5(folder / "m.h5");
            EXPECT_EQ(h5.dims("/edits/0/before/1"), (std::vector<hsize_t>{16, 32}));
        }
        const Model loaded = loadModel(folder / "m.h5");
        ASSERT_EQ(loaded.edits.size(), 1u);
        ASSERT_EQ(loaded.edits[0].before.size(), 2u);
        for (size_t j = 0; j < 2; ++j) {
            const Matrix expected =
                storage == StorageType::Float16
                    ? Matrix(e.before[j].unaryExpr([](float x) { return halfToFloat(floatToHalf(x)); }))
                    : e.before[j];
            EXPECT_EQ(loaded.edits[0].before[j], expected);
            // Restoring `before` gives exactly the weights stored for the unedited model.
            EXPECT_EQ(loaded.edits[0].before[j], loaded.weights.blocks[j].down.weight);
        }
    }
}

TEST(ModelFile, EditKeysRoundTrip) {
    TempFolder folder;
    Model m = makeTinyModel(Architecture::Gpt2, 4);
    EditRecord e = makeEdit(m.config, {0, 1}, {2, 2}, 5);
    e.keys = {Matrix::Random(32, 2), Matrix::Random(32, 2)};  // two requests' keys per layer
    m.edits.push_back(e);
    m.edits.push_back(makeEdit(m.config, {1}, {1}, 6));  // no keys: files of earlier versions
    saveModel(m, folder / "m.h5");
    {
        H5Edit h5(folder / "m.h5");
        EXPECT_EQ(h5.dims("/edits/0/keys/1"), (std::vector<hsize_t>{32, 2}));
    }
    const Model loaded = loadModel(folder / "m.h5");
    ASSERT_EQ(loaded.edits[0].keys.size(), 2u);
    EXPECT_EQ(loaded.edits[0].keys[0], e.keys[0]);
    EXPECT_EQ(loaded.edits[0].keys[1], e.keys[1]);
    EXPECT_TRUE(loaded.edits[1].keys.empty());
    // A key of the wrong length is refused with its path.
    H5Edit(folder / "m.h5").setFloats("/edits/0/keys/1", {31, 2}, std::vector<float>(62));
    expectLoadError(folder / "m.h5", "/edits/0/keys/1", "has shape [31, 2], expected [32, n]");
    H5Edit(folder / "m.h5").remove("/edits/0/keys/1");  // one layer's keys missing
    expectLoadError(folder / "m.h5", "/edits/0/keys", "holds 1 matrices for 2 layers");
}

TEST(ModelFile, NormEpsIsStoredAsThePlainDecimal) {
    TempFolder folder;
    saveModel(makeTinyModel(Architecture::Llama, 1), folder / "m.h5");  // norm_eps 1e-6f
    hid_t file = H5Fopen((folder / "m.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t attr = H5Aopen(file, "norm_eps", H5P_DEFAULT);
    double eps = 0;
    H5Aread(attr, H5T_NATIVE_DOUBLE, &eps);
    H5Aclose(attr);
    H5Fclose(file);
    EXPECT_EQ(eps, 1e-6);
    EXPECT_EQ(loadConfig(folder / "m.h5").normEps, 1e-6f);
}

TEST(ModelFile, LoadConfigReadsRootAttributes) {
    TempFolder folder;
    const Model m = makeTinyModel(Architecture::Llama, 3, {.nKvHeads = 1, .tieEmbeddings = true});
    saveModel(m, folder / "m.h5");
    expectConfigEqual(m.config, loadConfig(folder / "m.h5"));
    EXPECT_EQ(m.config.parameterCount(), loadModel(folder / "m.h5").config.parameterCount());
}

TEST(ModelFile, ParameterCountMatchesTensorSizes) {
    for (Architecture a : {Architecture::Gpt2, Architecture::Llama}) {
        for (bool tied : {false, true}) {
            const Model m = makeTinyModel(a, 1, {.tieEmbeddings = tied});
            int64_t total = 0;
            forEachTensor(m.config, m.weights, [&](const std::string&, const auto& t) { total += t.size(); });
            EXPECT_EQ(m.config.parameterCount(), total);
        }
    }
}

TEST(ModelFile, SaveRefusesToOverwriteUnlessAsked) {
    TempFolder folder;
    const fs::path file = folder / "m.h5";
    const Model first = makeTinyModel(Architecture::Gpt2, 1);
    const Model second = makeTinyModel(Architecture::Gpt2, 2);
    saveModel(first, file);
    EXPECT_THROW(saveModel(second, file), InvalidInput);
    EXPECT_EQ(loadModel(file).weights.tokenEmbedding, first.weights.tokenEmbedding);
    saveModel(second, file, StorageType::Float32, true);
    EXPECT_EQ(loadModel(file).weights.tokenEmbedding, second.weights.tokenEmbedding);
    // Nothing but the model is left in the folder (no temporary files).
    EXPECT_EQ(std::distance(fs::directory_iterator(folder.path()), fs::directory_iterator()), 1);
}

TEST(ModelFile, SaveTargetIsCheckedBeforeAnyWork) {
    TempFolder folder;
    const fs::path file = folder / "m.h5";
    EXPECT_NO_THROW(checkSaveTarget(file, false));
    saveModel(makeTinyModel(Architecture::Gpt2, 1), file);
    EXPECT_NO_THROW(checkSaveTarget(file, true));
    try {
        checkSaveTarget(file, false);
        ADD_FAILURE() << "an existing file was accepted";
    } catch (const InvalidInput& e) {
        EXPECT_NE(std::string(e.what()).find("m.h5 already exists"), std::string::npos) << e.what();
    }
    EXPECT_THROW(checkSaveTarget(folder / "no" / "m.h5", true), InvalidInput);
    EXPECT_THROW(checkSaveTarget(folder.path(), true), InvalidInput);
}

TEST(ModelFile, SaveRefusesModelsItCouldNotReadBack) {
    TempFolder folder;
    const fs::path file = folder / "m.h5";
    Model wrongShape = makeTinyModel(Architecture::Gpt2, 1);
    wrongShape.weights.blocks[0].down.weight.resize(16, 31);
    EXPECT_THROW(saveModel(wrongShape, file), InvalidInput);

    Model withNan = makeTinyModel(Architecture::Llama, 1);
    withNan.weights.blocks[1].q.weight(2, 3) = std::numeric_limits<float>::quiet_NaN();
    try {
        saveModel(withNan, file);
        ADD_FAILURE() << "saved NaN";
    } catch (const InvalidInput& e) {
        EXPECT_NE(std::string(e.what()).find("/blocks/1/attn/q/weight holds NaN at [2, 3]"),
                  std::string::npos)
            << e.what();
    }

    Model tooLarge = makeTinyModel(Architecture::Gpt2, 1);
    tooLarge.weights.blocks[1].up.weight(0, 0) = 70000.0f;
    EXPECT_THROW(saveModel(tooLarge, file, StorageType::Float16), InvalidInput);
    saveModel(tooLarge, file, StorageType::Float32);  // fine in float32

    Model noTokenizer = makeTinyModel(Architecture::Gpt2, 1);
    noTokenizer.tokenizer = Tokenizer();
    EXPECT_THROW(saveModel(noTokenizer, folder / "other.h5"), InvalidInput);
    EXPECT_EQ(std::distance(fs::directory_iterator(folder.path()), fs::directory_iterator()), 1);
}

TEST(ModelFile, Float16ConversionRoundsToNearestEven) {
    for (uint32_t h = 0; h < 0x10000; ++h) {  // every half survives a round trip
        const float f = halfToFloat(uint16_t(h));
        if (std::isnan(f)) continue;
        ASSERT_EQ(floatToHalf(f), h) << std::hex << h;
    }
    EXPECT_EQ(halfToFloat(0x3c00), 1.0f);
    EXPECT_EQ(halfToFloat(0x0001), 0x1p-24f);
    EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
    EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f), 0x3c00);            // tie, to even (down)
    EXPECT_EQ(floatToHalf(1.0f + 3 * 0x1p-11f), 0x3c02);        // tie, to even (up)
    EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01); // above the tie
    EXPECT_EQ(floatToHalf(0x1p-25f), 0x0000);                   // subnormal tie, to even
    EXPECT_EQ(floatToHalf(3 * 0x1p-25f), 0x0002);
    EXPECT_EQ(floatToHalf(65519.0f), 0x7bff);
    EXPECT_EQ(floatToHalf(65520.0f), 0x7c00);
    EXPECT_EQ(floatToHalf(-1e9f), 0xfc00);
    EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(ModelFile, LoadsFileWrittenByH5py) {
    const fs::path dir = fs::path(MWB_SOURCE_DIR) / "tests" / "fixtures";
    const fs::path file = dir / "h5py_tiny_gpt2.h5";
    std::ifstream in(dir / "h5py_tiny_gpt2.json");
    ASSERT_TRUE(in) << "missing fixture; run tests/fixtures/make_h5py_fixture.py";
    const nlohmann::json expected = nlohmann::json::parse(in);

    const Model m = loadModel(file);
    const auto& ec = expected["config"];
    EXPECT_EQ(m.config.architecture, Architecture::Gpt2);
    EXPECT_EQ(m.config.nLayers, ec["n_layer"].get<int>());
    EXPECT_EQ(m.config.nHeads, ec["n_head"].get<int>());
    EXPECT_EQ(m.config.dModel, ec["d_model"].get<int>());
    EXPECT_EQ(m.config.dFf, ec["d_ff"].get<int>());
    EXPECT_EQ(m.config.vocabSize, ec["vocab_size"].get<int>());
    EXPECT_EQ(m.config.nCtx, ec["n_ctx"].get<int>());
    EXPECT_FLOAT_EQ(m.config.normEps, ec["norm_eps"].get<float>());
    EXPECT_EQ(m.config.activation, Activation::GeluTanh);
    EXPECT_TRUE(m.config.tieEmbeddings);
    EXPECT_EQ(m.config.name, ec["name"].get<std::string>());

    int seen = 0;
    forEachTensor(m.config, m.weights, [&](const std::string& path, const auto& t) {
        ASSERT_TRUE(expected["tensors"].contains(path)) << path;
        const auto& e = expected["tensors"][path];
        std::vector<long> shape = e["shape"].get<std::vector<long>>();
        EXPECT_EQ(shape[0], t.rows()) << path;
        EXPECT_EQ(shape.size() == 2 ? shape[1] : 1, t.cols()) << path;
        EXPECT_NEAR(t.template cast<double>().sum(), e["sum"].get<double>(), 1e-4) << path;
        for (const auto& sample : e["samples"])
            EXPECT_EQ(t.data()[sample[0].get<long>()], sample[1].get<float>()) << path;
        ++seen;
    });
    EXPECT_EQ(seen, int(expected["tensors"].size()));

    const TokenizerSpec& spec = m.tokenizer.spec();
    const auto& et = expected["tokenizer"];
    EXPECT_EQ(spec.kind, TokenizerKind::ByteBpe);
    EXPECT_EQ(spec.bosId, et["bos_id"].get<int>());
    EXPECT_EQ(spec.eosId, et["eos_id"].get<int>());
    EXPECT_FALSE(spec.addBos);
    EXPECT_EQ(spec.vocab, et["vocab"].get<std::vector<std::string>>());
    EXPECT_EQ(spec.merges, et["merges"].get<std::vector<std::string>>());
    EXPECT_EQ(spec.vocab, tinyByteBpeSpec().vocab);  // same byte order as test_models.h
}

// ---------------------------------------------------------------------------------------
// Configuration names, problems and tensor shapes

TEST(ModelFileConfig, NamesRoundTripAndUnknownNamesThrow) {
    for (Architecture a : {Architecture::Gpt2, Architecture::Llama})
        EXPECT_EQ(parseArchitecture(toString(a)), a);
    for (Activation a : {Activation::GeluTanh, Activation::Gelu, Activation::Relu, Activation::Silu})
        EXPECT_EQ(parseActivation(toString(a)), a);
    EXPECT_EQ(toString(Activation::GeluTanh), "gelu_tanh");
    EXPECT_EQ(toString(Architecture::Llama), "llama");
    EXPECT_THROW(parseArchitecture("GPT2"), InvalidInput);
    EXPECT_THROW(parseActivation("gelu_new"), InvalidInput);
}

TEST(ModelFileConfig, ConfigProblems) {
    const ModelConfig good = makeTinyModel(Architecture::Llama, 1).config;
    EXPECT_EQ(configProblem(good), "");
    auto problemWith = [&](auto change) {
        ModelConfig c = good;
        change(c);
        return configProblem(c);
    };
    EXPECT_NE(problemWith([](ModelConfig& c) { c.dFf = -3; }).find("d_ff is -3"), std::string::npos);
    EXPECT_NE(problemWith([](ModelConfig& c) { c.nHeads = 3; }).find("not divisible by n_head"),
              std::string::npos);
    EXPECT_NE(problemWith([](ModelConfig& c) { c.nKvHeads = 3; }).find("not divisible by n_kv_head"),
              std::string::npos);
    EXPECT_NE(problemWith([](ModelConfig& c) { c.dModel = 12; }).find("odd"), std::string::npos);
    EXPECT_EQ(problemWith([](ModelConfig& c) { c.dModel = 12; c.architecture = Architecture::Gpt2; }), "");
    EXPECT_NE(problemWith([](ModelConfig& c) { c.normEps = -1e-5f; }).find("norm_eps"), std::string::npos);
    EXPECT_EQ(problemWith([](ModelConfig& c) { c.normEps = 0; }), "");
    EXPECT_NE(problemWith([](ModelConfig& c) { c.ropeTheta = -1; }).find("rope_theta"), std::string::npos);
    EXPECT_NE(problemWith([](ModelConfig& c) { c.nLayers = 1 << 20; c.dModel = 1 << 16; c.dFf = 1 << 16; })
                  .find("parameters"),
              std::string::npos);
}

TEST(ModelFileConfig, ExpectedShapes) {
    ModelConfig c = makeTinyModel(Architecture::Llama, 1, {.nKvHeads = 1}).config;
    EXPECT_EQ(expectedShape(c, "/embed/token"), (std::pair<long, long>{c.vocabSize, 16}));
    EXPECT_EQ(expectedShape(c, "/blocks/1/attn/k/weight"), (std::pair<long, long>{4, 16}));
    EXPECT_EQ(expectedShape(c, "/blocks/0/attn/o/weight"), (std::pair<long, long>{16, 16}));
    EXPECT_EQ(expectedShape(c, "/blocks/0/mlp/gate/weight"), (std::pair<long, long>{32, 16}));
    EXPECT_EQ(expectedShape(c, "/blocks/0/mlp/down/weight"), (std::pair<long, long>{16, 32}));
    EXPECT_EQ(expectedShape(c, "/final_norm/weight"), (std::pair<long, long>{16, 1}));
    EXPECT_THROW(expectedShape(c, "/embed/position"), InvalidInput);     // gpt2 only
    EXPECT_THROW(expectedShape(c, "/blocks/0/attn/q/bias"), InvalidInput);
    EXPECT_THROW(expectedShape(c, "/blocks/2/norm1/weight"), InvalidInput);  // no layer 2
    EXPECT_THROW(expectedShape(c, "/blocks/01/norm1/weight"), InvalidInput); // padded
    c.architecture = Architecture::Gpt2;
    EXPECT_EQ(expectedShape(c, "/embed/position"), (std::pair<long, long>{32, 16}));
    EXPECT_EQ(expectedShape(c, "/blocks/1/mlp/up/bias"), (std::pair<long, long>{32, 1}));
    const Weights w = zeroWeights<float>(c);
    EXPECT_EQ(w.blocks[0].k.bias.size(), 4);
    EXPECT_EQ(w.blocks[0].gate.weight.size(), 0);
    const WeightsT<double> d = castWeights<double>(w);
    EXPECT_EQ(d.blocks[1].down.weight.rows(), 16);
    EXPECT_EQ(castWeights<float>(d).tokenEmbedding, w.tokenEmbedding);
}

// ---------------------------------------------------------------------------------------
// Errors: each names the file and the HDF5 path.

TEST(ModelFileErrors, FileNotFound) {
    TempFolder folder;
    expectLoadError(folder / "absent.h5", "", "does not exist");
    EXPECT_THROW(loadConfig(folder / "absent.h5"), ModelFormatError);
}

TEST(ModelFileErrors, NotHdf5) {
    TempFolder folder;
    std::ofstream(folder / "text.h5") << "this is not an HDF5 file\n";
    expectLoadError(folder / "text.h5", "", "is not an HDF5 file");
    std::ofstream(folder / "empty.h5").close();
    expectLoadError(folder / "empty.h5", "", "HDF5");
    expectLoadError(folder.path(), "", "is a folder");
}

TEST(ModelFileErrors, TruncatedFile) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    const auto size = fs::file_size(file);
    for (double fraction : {0.9, 0.5, 0.01}) {
        fs::copy_file(file, folder / "cut.h5", fs::copy_options::overwrite_existing);
        fs::resize_file(folder / "cut.h5", uintmax_t(double(size) * fraction));
        expectLoadError(folder / "cut.h5", "", "HDF5");
    }
}

TEST(ModelFileErrors, MissingRootAttribute) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    H5Edit(file).removeAttribute("/", "d_ff");
    expectLoadError(file, "/", "has no attribute 'd_ff'");
    EXPECT_THROW(loadConfig(file), ModelFormatError);
}

TEST(ModelFileErrors, WrongAttributeType) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    H5Edit(file).setString("/", "n_layer", "two");
    expectLoadError(file, "/", "attribute 'n_layer' has type string, expected an integer");
}

TEST(ModelFileErrors, NotAModelFile) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    H5Edit(file).setString("/", "format", "something.else");
    expectLoadError(file, "/", "expected 'mwb.transformer'");
    H5Edit(file).setString("/", "format", "mwb.transformer");
    H5Edit(file).setInt("/", "format_version", 2);
    expectLoadError(file, "/", "format_version");
}

TEST(ModelFileErrors, UnknownArchitectureOrActivation) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    H5Edit(file).setString("/", "architecture", "mamba");
    expectLoadError(file, "/", "mamba");
    H5Edit(file).setString("/", "architecture", "gpt2");
    H5Edit(file).setString("/", "activation", "swish");
    expectLoadError(file, "/", "swish");
}

TEST(ModelFileErrors, InconsistentConfig) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    H5Edit(file).setInt("/", "n_head", 5);
    expectLoadError(file, "/", "d_model (16) is not divisible by n_head (5)");
    H5Edit(file).setInt("/", "n_head", 4);
    H5Edit(file).setInt("/", "n_kv_head", 3);
    expectLoadError(file, "/", "n_head (4) is not divisible by n_kv_head (3)");
    H5Edit(file).setInt("/", "n_kv_head", 4);
    H5Edit(file).setInt("/", "n_layer", 0);
    expectLoadError(file, "/", "n_layer is 0, must be positive");
    H5Edit(file).setInt("/", "n_layer", 2);
    H5Edit(file).setInt("/", "vocab_size", int64_t(1) << 40);
    expectLoadError(file, "/", "vocab_size");
}

TEST(ModelFileErrors, OddHeadDimForLlama) {
    TempFolder folder;
    const fs::path file = savedModel(folder, Architecture::Llama);
    H5Edit(file).setInt("/", "n_head", 16);
    H5Edit(file).setInt("/", "n_kv_head", 8);
    expectLoadError(file, "/", "head_dim (1) is odd");
}

TEST(ModelFileErrors, MissingDataset) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    H5Edit(file).remove("/blocks/1/mlp/down/weight");
    expectLoadError(file, "/blocks/1/mlp/down/weight", "is missing");
    H5Edit(file).remove("/blocks/1");
    expectLoadError(file, "/blocks/1/norm1/weight", "is missing");
}

TEST(ModelFileErrors, WrongShape) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    H5Edit(file).setFloats("/blocks/1/mlp/down/weight", {16, 31}, std::vector<float>(16 * 31));
    try {
        loadModel(file);
        FAIL();
    } catch (const ModelFormatError& e) {
        EXPECT_EQ(std::string(e.what()),
                  file.string() + ": /blocks/1/mlp/down/weight has shape [16, 31], expected [16, 32]");
    }
}

TEST(ModelFileErrors, WrongRank) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    H5Edit(file).setFloats("/blocks/0/norm2/weight", {16, 1}, std::vector<float>(16));
    expectLoadError(file, "/blocks/0/norm2/weight", "has shape [16, 1], expected [16]");
    H5Edit(file).setFloats("/blocks/0/norm2/weight", {16}, std::vector<float>(16));
    H5Edit(file).setFloats("/embed/token", {260 * 16}, std::vector<float>(260 * 16));
    expectLoadError(file, "/embed/token", "has shape [4160], expected [260, 16]");
}

TEST(ModelFileErrors, IntegerDataset) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    H5Edit(file).setInts("/blocks/0/attn/k/weight", {16, 16});
    expectLoadError(file, "/blocks/0/attn/k/weight", "has type integer, expected float16, float32 or float64");
}

TEST(ModelFileErrors, GroupInsteadOfDataset) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    {
        H5Edit h5(file);
        h5.remove("/final_norm/bias");
        h5.createGroup("/final_norm/bias");
    }
    expectLoadError(file, "/final_norm/bias", "is a group, expected a dataset");
}

TEST(ModelFileErrors, HugeDeclaredShapeIsRefusedBeforeAllocating) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    H5Edit(file).setHuge("/embed/token", {hsize_t(1) << 40, 16}, H5T_IEEE_F32LE);
    EXPECT_LT(fs::file_size(file), 1u << 20);
    expectLoadError(file, "/embed/token", "has shape [1099511627776, 16], expected [260, 16]");

    const fs::path other = savedModel(folder, Architecture::Llama, StorageType::Float32, "other.h5");
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, H5T_VARIABLE);
    H5Edit(other).setHuge("/tokenizer/merges", {hsize_t(1) << 40}, str);
    H5Tclose(str);
    expectLoadError(other, "/tokenizer/merges", "more than the limit");
}

TEST(ModelFileErrors, DamagedStringHeapIsRefusedBeforeHdf5ReadsIt) {
    // HDF5 1.10 trusts the sizes in a global heap collection; a damaged one would make it
    // read out of bounds. Give the first string object an enormous size.
    TempFolder folder;
    const fs::path file = savedModel(folder);
    std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(io)), std::istreambuf_iterator<char>());
    const size_t heap = bytes.find("GCOL\x01");
    ASSERT_NE(heap, std::string::npos);
    const size_t objectSize = heap + 16 + 8;  // header (16), then index, refs, reserved (8)
    ASSERT_EQ(bytes[heap + 16], 1);            // object 1
    io.seekp(std::streamoff(objectSize));
    const char huge[8] = {0, 0, 0, 0, 0, 0, 0, 0x40};
    io.write(huge, 8);
    io.close();
    expectLoadError(file, "/", "is damaged");
}

TEST(ModelFileErrors, NanInWeights) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    std::vector<float> values(16 * 32, 0.5f);
    values[3 * 32 + 5] = std::numeric_limits<float>::quiet_NaN();
    H5Edit(file).setFloats("/blocks/0/mlp/down/weight", {16, 32}, values);
    expectLoadError(file, "/blocks/0/mlp/down/weight", "holds NaN at [3, 5]");
}

TEST(ModelFileErrors, InfInFloat16WeightsKeptInFloat16) {
    TempFolder folder;
    const fs::path file = savedModel(folder, Architecture::Llama, StorageType::Float16);
    H5Edit(file).pokeHalf("/blocks/1/mlp/gate/weight", 7 * 16 + 2, 0x7e00);  // NaN at [7, 2]
    // As another program would write it: without the checksum, which would name the
    // change as damage first.
    H5Edit(file).removeAttribute("/blocks/1/mlp/gate/weight", "xxh3_64");
    expectLoadError(file, "/blocks/1/mlp/gate/weight", "holds NaN at [7, 2]", {WeightPrecision::Float16});
}

TEST(ModelFileErrors, Float32TooLargeForFloat16) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    std::vector<float> values(16 * 16, 0.5f);
    values[2 * 16 + 9] = 1e6f;  // finite in float32, infinite in float16
    H5Edit(file).setFloats("/blocks/0/attn/q/weight", {16, 16}, values);
    expectLoadError(file, "/blocks/0/attn/q/weight", "holds Inf at [2, 9] in float16", {WeightPrecision::Float16});
    EXPECT_NO_THROW(loadModel(file));
}

TEST(ModelFileErrors, InfInFloat16Weights) {
    TempFolder folder;
    const fs::path file = savedModel(folder, Architecture::Llama, StorageType::Float16);
    H5Edit(file).pokeHalf("/blocks/1/mlp/gate/weight", 7 * 16 + 2, 0xfc00);  // -Inf at [7, 2]
    // As another program would write it: without the checksum, which would name the
    // change as damage first.
    H5Edit(file).removeAttribute("/blocks/1/mlp/gate/weight", "xxh3_64");
    expectLoadError(file, "/blocks/1/mlp/gate/weight", "holds Inf at [7, 2]");
}

TEST(ModelFileErrors, MissingTokenizer) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    H5Edit(file).remove("/tokenizer");
    expectLoadError(file, "/tokenizer", "is missing");
}

TEST(ModelFileErrors, TokenizerVocabSizeDiffersFromVocabSize) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    std::vector<std::string> vocab = tinyByteBpeSpec().vocab;
    vocab.pop_back();
    H5Edit(file).setStrings("/tokenizer/vocab", vocab);
    expectLoadError(file, "/tokenizer/vocab", "has shape [259], expected [260] (vocab_size)");
}

TEST(ModelFileErrors, BadTokenizerAttributes) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    H5Edit(file).setString("/tokenizer", "kind", "wordpiece");
    expectLoadError(file, "/tokenizer", "wordpiece");
    H5Edit(file).setString("/tokenizer", "kind", "byte_bpe");
    H5Edit(file).setInt("/tokenizer", "eos_id", 260);
    expectLoadError(file, "/tokenizer", "eos_id");
    H5Edit(file).setInt("/tokenizer", "eos_id", 259);
    H5Edit(file).removeAttribute("/tokenizer", "add_bos");
    expectLoadError(file, "/tokenizer", "has no attribute 'add_bos'");
}

TEST(ModelFileErrors, InvalidTokenizerContent) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    H5Edit(file).setStrings("/tokenizer/merges", {"x y"});  // pieces not in the vocabulary
    expectLoadError(file, "/tokenizer", "not a valid tokenizer");
}

// Pieces are text (byte-level vocabularies spell bytes as characters); bytes that are not
// UTF-8 are refused with the entry's number, on load as on import (tokenizerProblem).
TEST(ModelFileErrors, TokenizerPiecesThatAreNotUtf8) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    std::vector<std::string> vocab = tinyByteBpeSpec().vocab;
    vocab[70] = "a\xff";
    H5Edit(file).setStrings("/tokenizer/vocab", vocab);
    expectLoadError(file, "/tokenizer/vocab", "entry 70 is not valid UTF-8");
    TokenizerSpec spec = tinySentencePieceSpec();
    spec.vocab[5] = "\xc3(";  // a lead byte without its continuation
    const std::optional<ModelProblem> problem = tokenizerProblem(spec, int(spec.vocab.size()));
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->path, "/tokenizer/vocab");
    EXPECT_EQ(problem->text, "entry 5 is not valid UTF-8");
}

TEST(ModelFileErrors, SentencePieceWithoutScores) {
    TempFolder folder;
    const fs::path file = folder / "sp.h5";
    TinyModelOptions options;
    options.sentencePiece = true;
    saveModel(makeTinyModel(Architecture::Llama, 1, options), file);
    H5Edit(file).remove("/tokenizer/scores");
    expectLoadError(file, "/tokenizer/scores", "is missing");
}

TEST(ModelFileErrors, EditsWithGapOrBadFactors) {
    TempFolder folder;
    const fs::path file = savedModel(folder);
    H5Edit(file).move("/edits/0", "/edits/1");
    expectLoadError(file, "/edits/0", "numbered from 0");
    H5Edit(file).move("/edits/1", "/edits/0");
    H5Edit(file).setFloats("/edits/0/right", {31}, std::vector<float>(31));
    expectLoadError(file, "/edits/0/right", "has shape [31], expected [32] or [32, r]");
    H5Edit(file).setFloats("/edits/0/right", {32}, std::vector<float>(32));
    H5Edit(file).setInt("/edits/0", "layer", 2);
    expectLoadError(file, "/edits/0", "attribute 'layer' is 2, outside 0 .. 1");
    H5Edit(file).setInt("/edits/0", "layer", 1);
    H5Edit(file).removeAttribute("/edits/0", "method");
    expectLoadError(file, "/edits/0", "has no attribute 'method'");
}

TEST(ModelFileErrors, MessagesNameFileAndPathWithoutPrinting) {
    // HDF5 must not print its error stack: capture stderr around a failing load.
    TempFolder folder;
    const fs::path file = savedModel(folder);
    H5Edit(file).remove("/embed/token");
    ::testing::internal::CaptureStderr();
    EXPECT_THROW(loadModel(file), ModelFormatError);
    EXPECT_THROW(loadModel(folder / "absent.h5"), ModelFormatError);
    std::ofstream(folder / "junk.h5") << "junk";
    EXPECT_THROW(loadModel(folder / "junk.h5"), ModelFormatError);
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace mwb
