// Hugging Face folders of every supported architecture, written with random weights by
// an independent float64 PyTorch implementation (tests/fixtures/zoo/make_zoo_goldens.py):
// the import gives that implementation's logits at every position, within
// 1e-3 * max(1, max |logit|), and the same ten most likely next tokens; exporting the
// imported model and importing it again gives the same tensors bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "io/export_hf.h"
#include "io/hf_config.h"
#include "io/import_hf.h"
#include "io/safetensors.h"
#include "model/transformer.h"
#include "tensor/errors.h"
#include "tests/support/temp_dir.h"

namespace mwb {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const fs::path kZoo = fs::path(MWB_SOURCE_DIR) / "tests/fixtures/zoo";

// A copy of the fixture folder (config.json and model.safetensors; no tokenizer, so the
// import makes a placeholder one and the model runs on ids).
fs::path copyOf(const std::string& name, const TempDir& tmp) {
    const fs::path dir = tmp / name;
    fs::create_directories(dir);
    for (const char* file : {"config.json", "model.safetensors"}) fs::copy_file(kZoo / name / file, dir / file);
    return dir;
}

std::vector<int> topIds(const RowVector& logits, int k) {
    std::vector<int> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int a, int b) { return logits[a] > logits[b]; });
    ids.resize(k);
    return ids;
}

class ZooGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooGolden, ImportGivesTheReferenceLogits) {
    const std::string name = GetParam();
    const nlohmann::json expected = readJsonFile(kZoo / name / "expected.json");
    const ImportedModel imported = importHf(kZoo / name);
    bool placeholder = false;
    for (const std::string& w : imported.warnings) placeholder |= w.find("has no tokenizer") != std::string::npos;
    EXPECT_TRUE(placeholder);
    const Transformer transformer(imported.model);
    const std::vector<int> ids = expected.at("ids").get<std::vector<int>>();
    const RunState state = transformer.run(ids, {}, LogitsMode::All);
    const auto& rows = expected.at("logits");
    ASSERT_EQ(state.logits.rows(), Eigen::Index(rows.size()));
    for (size_t pos = 0; pos < rows.size(); ++pos) {
        const std::vector<double> want = rows[pos].get<std::vector<double>>();
        ASSERT_EQ(state.logits.cols(), Eigen::Index(want.size()));
        double largest = 1.0, worst = 0.0;
        for (double v : want) largest = std::max(largest, std::abs(v));
        for (size_t j = 0; j < want.size(); ++j)
            worst = std::max(worst, std::abs(double(state.logits(Eigen::Index(pos), Eigen::Index(j))) - want[j]));
        EXPECT_LE(worst, 1e-3 * largest) << name << ", position " << pos;
    }
    std::vector<int> top = topIds(state.lastLogits(), 10), want = expected.at("top10_last").get<std::vector<int>>();
    std::sort(top.begin(), top.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(top, want) << name;

    // Decoding with the key/value cache gives the logits of the full pass.
    RunState decoded = transformer.run({ids[0]});
    for (size_t i = 1; i < ids.size(); ++i) transformer.extend(decoded, {ids[i]});
    EXPECT_LT((decoded.lastLogits() - state.lastLogits()).cwiseAbs().maxCoeff(), 1e-4f) << name;
}

TEST_P(ZooGolden, ExportThenImportGivesTheSameTensors) {
    const std::string name = GetParam();
    const TempDir tmp;
    const Model original = importHf(kZoo / name).model;
    ExportOptions options;
    options.dtype = TensorDtype::F32;
    exportHf(original, tmp / "exported", options);
    const Model again = importHf(tmp / "exported").model;
    EXPECT_EQ(toString(again.config.architecture), toString(original.config.architecture));
    EXPECT_TRUE(configProblem(again.config).empty());
    std::vector<std::pair<std::string, Matrix>> a;
    forEachTensor(original.config, original.weights, [&](const std::string& path, const auto& t) {
        a.emplace_back(path, Eigen::Map<const Matrix>(t.data(), t.rows(), t.cols()));
    });
    size_t i = 0;
    forEachTensor(again.config, again.weights, [&](const std::string& path, const auto& t) {
        ASSERT_LT(i, a.size());
        EXPECT_EQ(path, a[i].first);
        EXPECT_TRUE(Eigen::Map<const Matrix>(t.data(), t.rows(), t.cols()) == a[i].second) << path;
        ++i;
    });
    EXPECT_EQ(i, a.size());
    const std::vector<int> ids = {3, 1, 4, 1, 5, 9, 2, 6};
    EXPECT_TRUE(Transformer(again).run(ids).logits == Transformer(original).run(ids).logits) << name;
}

INSTANTIATE_TEST_SUITE_P(Architectures, ZooGolden,
                         ::testing::Values("gptj", "gpt_neox_parallel", "gpt_neox_sequential", "llama3_scaling",
                                           "llama_linear_scaling", "qwen2_tied", "qwen2_untied", "qwen3", "gemma2",
                                           "phi3", "olmo2", "mistral_sliding"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// Checkpoint buffers without weights are skipped with a note; an unknown tensor is refused by name.
TEST(ZooImport, BuffersAreSkippedAndUnknownTensorsRefused) {
    const TempDir tmp;
    const ImportedModel neox = importHf(kZoo / "gpt_neox_parallel");
    bool noted = false;
    for (const std::string& n : neox.notes) noted |= n.find("buffers") != std::string::npos;
    EXPECT_TRUE(noted);

    // The same checkpoint with one tensor no architecture has.
    const fs::path dir = copyOf("olmo2", tmp);
    const SafetensorsFile file(dir / "model.safetensors");
    std::vector<std::vector<float>> data;
    std::vector<SafetensorToWrite> tensors;
    for (const std::string& name : file.names()) {
        const SafetensorInfo& info = *file.find(name);
        data.emplace_back(size_t(info.elementCount()));
        file.read(name, data.back());
        tensors.push_back({name, info.shape, nullptr});
    }
    for (size_t i = 0; i < tensors.size(); ++i) tensors[i].data = data[i].data();
    const std::vector<float> mystery(4, 1.0f);
    tensors.push_back({"model.layers.0.mlp.mystery_proj.weight", {2, 2}, mystery.data()});
    writeSafetensors(dir / "model.safetensors", tensors, TensorDtype::F32);
    try {
        importHf(dir);
        ADD_FAILURE() << "an unknown tensor was accepted";
    } catch (const ModelFormatError& e) {
        EXPECT_NE(std::string(e.what()).find("model.layers.0.mlp.mystery_proj.weight"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace mwb
