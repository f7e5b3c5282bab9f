// Mixture-of-experts Hugging Face folders (Mixtral, OLMoE, Qwen2-MoE with a shared
// expert and dense layers, Qwen3-MoE; Mixtral also in the packed expert layout), written
// with random weights by an independent float64 PyTorch implementation
// (tests/fixtures/moe/make_moe_goldens.py): the import gives that implementation's
// logits at every position within 1e-3 * max(1, max |logit|), the same ten most likely
// next tokens, and at every sparse layer and token the same experts in the same order
// with weights within 1e-4. Decoding with the key/value cache, the model file and the
// export back to Hugging Face keep all of it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "io/export_hf.h"
#include "io/hdf5_model_file.h"
#include "io/hf_config.h"
#include "io/import_hf.h"
#include "model/transformer.h"
#include "tensor/errors.h"
#include "tests/support/temp_dir.h"

namespace mwb {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const fs::path kMoe = fs::path(MWB_SOURCE_DIR) / "tests/fixtures/moe";

std::vector<int> topIds(const RowVector& logits, int k) {
    std::vector<int> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int a, int b) { return logits[a] > logits[b]; });
    ids.resize(k);
    std::sort(ids.begin(), ids.end());
    return ids;
}

void expectLogits(const Matrix& logits, const nlohmann::json& rows, const std::string& name) {
    ASSERT_EQ(logits.rows(), Eigen::Index(rows.size()));
    for (size_t pos = 0; pos < rows.size(); ++pos) {
        const std::vector<double> want = rows[pos].get<std::vector<double>>();
        ASSERT_EQ(logits.cols(), Eigen::Index(want.size()));
        double largest = 1.0, worst = 0.0;
        for (double v : want) largest = std::max(largest, std::abs(v));
        for (size_t j = 0; j < want.size(); ++j)
            worst = std::max(worst, std::abs(double(logits(Eigen::Index(pos), Eigen::Index(j))) - want[j]));
        EXPECT_LE(worst, 1e-3 * largest) << name << ", position " << pos;
    }
}

void expectRouting(const ModelConfig& c, const RunState& state, const nlohmann::json& want, const std::string& name) {
    std::vector<int> sparse;
    for (int l = 0; l < c.nLayers; ++l)
        if (c.moeLayer(l)) sparse.push_back(l);
    const auto& layers = want.at("layers");
    ASSERT_EQ(sparse.size(), layers.size()) << name;
    for (size_t i = 0; i < sparse.size(); ++i) {
        const int l = sparse[i];
        EXPECT_EQ(l, layers[i].at("layer").get<int>()) << name;
        const LayerRouting& got = state.routing.at(size_t(l));
        const auto& tokens = layers[i].at("tokens");
        ASSERT_EQ(size_t(state.nTokens), tokens.size()) << name;
        for (size_t t = 0; t < tokens.size(); ++t) {
            const std::vector<int> experts = tokens[t].at("experts").get<std::vector<int>>();
            const std::vector<double> weights = tokens[t].at("weights").get<std::vector<double>>();
            ASSERT_EQ(long(experts.size()), long(got.experts.cols()));
            for (size_t j = 0; j < experts.size(); ++j) {
                EXPECT_EQ(got.experts(long(t), long(j)), experts[j]) << name << ", layer " << l << ", token " << t;
                EXPECT_NEAR(got.weights(long(t), long(j)), weights[j], 1e-4) << name << ", layer " << l;
            }
        }
    }
}

class MoeGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(MoeGolden, ImportGivesTheReferenceLogitsAndRouting) {
    const std::string name = GetParam();
    const nlohmann::json expected = readJsonFile(kMoe / name / "expected.json");
    const Model model = importHf(kMoe / name).model;
    ASSERT_TRUE(model.config.moe());
    const Transformer transformer(model);
    const std::vector<int> ids = expected.at("ids").get<std::vector<int>>();
    const RunState state = transformer.run(ids, {}, LogitsMode::All);
    expectLogits(state.logits, expected.at("logits"), name);
    std::vector<int> want = expected.at("top10_last").get<std::vector<int>>();
    std::sort(want.begin(), want.end());
    EXPECT_EQ(topIds(state.lastLogits(), 10), want) << name;
    expectRouting(model.config, state, expected.at("routing"), name);

    // Decoding with the key/value cache gives the full pass's logits and routing.
    RunState decoded = transformer.run({ids[0]});
    for (size_t i = 1; i < ids.size(); ++i) transformer.extend(decoded, {ids[i]});
    EXPECT_LT((decoded.lastLogits() - state.lastLogits()).cwiseAbs().maxCoeff(), 1e-4f) << name;
    expectRouting(model.config, decoded, expected.at("routing"), name + " (decoded)");
}

TEST_P(MoeGolden, ModelFileAndExportKeepEveryTensor) {
    const std::string name = GetParam();
    const TempDir tmp;
    const Model original = importHf(kMoe / name).model;
    saveModel(original, tmp / "m.h5");
    const Model loaded = loadModel(tmp / "m.h5");
    ExportOptions options;
    options.dtype = TensorDtype::F32;
    exportHf(loaded, tmp / "exported", options);
    const Model again = importHf(tmp / "exported").model;
    for (const Model* m : {&loaded, &again}) {
        EXPECT_EQ(m->config.nExperts, original.config.nExperts);
        EXPECT_EQ(m->config.nExpertsPerToken, original.config.nExpertsPerToken);
        EXPECT_EQ(m->config.dSharedExpert, original.config.dSharedExpert);
        EXPECT_EQ(m->config.normTopK, original.config.normTopK);
        EXPECT_EQ(m->config.moeLayerCount(), original.config.moeLayerCount());
        std::vector<std::pair<std::string, Matrix>> a;
        forEachTensor(original.config, original.weights, [&](const std::string& path, const auto& t) {
            a.emplace_back(path, Eigen::Map<const Matrix>(t.data(), t.rows(), t.cols()));
        });
        size_t i = 0;
        forEachTensor(m->config, m->weights, [&](const std::string& path, const auto& t) {
            ASSERT_LT(i, a.size());
            EXPECT_EQ(path, a[i].first);
            EXPECT_TRUE(Eigen::Map<const Matrix>(t.data(), t.rows(), t.cols()) == a[i].second) << path;
            ++i;
        });
        EXPECT_EQ(i, a.size());
    }
    const std::vector<int> ids = {3, 1, 4, 1, 5, 9, 2, 6};
    EXPECT_TRUE(Transformer(again).run(ids).logits == Transformer(original).run(ids).logits) << name;
}

INSTANTIATE_TEST_SUITE_P(Architectures, MoeGolden,
                         ::testing::Values("mixtral", "mixtral_packed", "olmoe", "qwen2_moe", "qwen3_moe"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// The file paths of the experts, as docs/file-format.md lists them.
TEST(MoeFile, ExpertTensorsHaveTheDocumentedPaths) {
    const Model model = importHf(kMoe / "qwen2_moe").model;
    std::vector<std::string> paths;
    forEachTensor(model.config, model.weights, [&](const std::string& path, const auto&) { paths.push_back(path); });
    auto has = [&](const std::string& p) { return std::find(paths.begin(), paths.end(), p) != paths.end(); };
    EXPECT_TRUE(has("/blocks/0/moe/router/weight"));
    EXPECT_TRUE(has("/blocks/0/moe/experts/5/down/weight"));
    EXPECT_TRUE(has("/blocks/0/moe/shared/gate/weight"));
    EXPECT_TRUE(has("/blocks/0/moe/shared_gate/weight"));
    EXPECT_TRUE(has("/blocks/2/mlp/down/weight"));  // mlp_only_layers [2]
    EXPECT_FALSE(has("/blocks/2/moe/router/weight"));
    EXPECT_FALSE(has("/blocks/0/mlp/down/weight"));
    EXPECT_EQ(expectedShape(model.config, "/blocks/1/moe/experts/0/gate/weight"), (std::pair<long, long>{16, 32}));
    EXPECT_EQ(expectedShape(model.config, "/blocks/1/moe/shared_gate/weight"), (std::pair<long, long>{1, 32}));
    EXPECT_THROW(expectedShape(model.config, "/blocks/1/moe/experts/6/gate/weight"), InvalidInput);
}

// Settings the forward pass cannot run are one sentence naming the key.
TEST(MoeImport, ImpossibleSettingsAreRefused) {
    const TempDir tmp;
    auto withConfig = [&](const std::string& name, auto change) {
        const fs::path dir = tmp / name;
        fs::create_directories(dir);
        nlohmann::json cfg = readJsonFile(kMoe / "qwen2_moe/config.json");
        change(cfg);
        std::ofstream(dir / "config.json") << cfg.dump();
        fs::copy_file(kMoe / "qwen2_moe/model.safetensors", dir / "model.safetensors");
        return dir;
    };
    auto message = [&](const fs::path& dir) {
        try {
            importHf(dir);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message(withConfig("k", [](auto& c) { c["num_experts_per_tok"] = 7; })).find("num_experts_per_tok"),
              std::string::npos);
    EXPECT_NE(message(withConfig("dense", [](auto& c) { c["mlp_only_layers"] = {9}; })).find("mlp_only_layers"),
              std::string::npos);
    // One fewer expert in config.json than in the file: the file's extra expert is named.
    EXPECT_NE(message(withConfig("fewer", [](auto& c) { c["num_experts"] = 5; })).find("experts.5"),
              std::string::npos);
}

}  // namespace
}  // namespace mwb
