// The differentiable forward pass and the backward pass: logits agree with the
// inference forward pass, and every gradient (each weight tensor of every
// architecture, mixtures of experts included, every activation, tied and untied heads,
// GQA, the delta added to an MLP output) agrees with central finite differences in
// double precision.
#include <gtest/gtest.h>

#include <limits>

#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "model/backprop.h"
#include "tensor/errors.h"
#include "model/transformer.h"

namespace mwb {
namespace {

struct Case {
    const char* name;
    Architecture architecture;
    Activation activation;
    bool tied;
    int nKvHeads;
    bool qkvBias = false;  // llama: biases on q, k and v (Qwen 2)
    void (*configure)(ModelConfig&) = nullptr;  // the architecture's other pieces
};

void PrintTo(const Case& k, std::ostream* os) { *os << k.name; }

ModelConfig tinyConfig(const Case& k) {
    ModelConfig c;
    c.architecture = k.architecture;
    c.activation = k.activation;
    c.tieEmbeddings = k.tied;
    c.qkvBias = k.qkvBias;
    c.nLayers = 2;
    c.vocabSize = 11;
    c.nCtx = 8;
    c.dFf = 12;
    c.normEps = 1e-5f;
    if (k.architecture == Architecture::Gpt2) {
        c.dModel = 8;
        c.nHeads = 2;
    } else {
        c.dModel = 16;  // 4 heads of 4 (RoPE needs an even head size)
        c.nHeads = 4;
        c.ropeTheta = 10000.0f;
    }
    c.nKvHeads = k.nKvHeads > 0 ? k.nKvHeads : c.nHeads;
    if (k.configure) k.configure(c);
    return c;
}

// Weights large enough that every nonlinearity matters (N(0, 0.02) would make the
// model nearly linear): matrices U(-0.5, 0.5), embeddings U(-1, 1), norm weights
// 1 + U(-0.2, 0.2), biases U(-0.2, 0.2).
WeightsT<double> randomWeights(const ModelConfig& c, uint64_t seed) {
    WeightsT<double> w = zeroWeights<double>(c);
    std::mt19937_64 rng(seed);
    auto uniform = [&](double lo, double hi) {
        return lo + (hi - lo) * double(rng() >> 11) * (1.0 / 9007199254740992.0);
    };
    forEachTensor(c, w, [&](const std::string& path, auto& t) {
        const bool isNorm = path.find("norm") != std::string::npos;
        const bool isBias = path.size() > 5 && path.substr(path.size() - 5) == "/bias";
        for (Eigen::Index i = 0; i < t.size(); ++i) {
            double& x = t.data()[i];
            if (isBias) x = uniform(-0.2, 0.2);
            else if (isNorm) x = 1.0 + uniform(-0.2, 0.2);
            else if (path.rfind("/embed", 0) == 0) x = uniform(-1, 1);
            else x = uniform(-0.5, 0.5);
        }
    });
    return w;
}

std::vector<int> randomTokens(int n, int vocab, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<int> t(n);
    for (int& x : t) x = int(rng() % uint64_t(vocab));
    return t;
}

MatrixD randomMatrix(Eigen::Index rows, Eigen::Index cols, uint64_t seed) {
    std::mt19937_64 rng(seed);
    MatrixD m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i)
        m.data()[i] = double(rng() >> 11) / 9007199254740992.0 * 2.0 - 1.0;
    return m;
}

// mlp_in of a dense layer, with its width; mlp_out in a mixture-of-experts layer, which
// has no single mlp_in.
std::pair<HookSite, int> mlpKeySite(const ModelConfig& c, int layer) {
    return c.moeLayer(layer) ? std::pair{HookSite::MlpOut, c.dModel} : std::pair{HookSite::MlpIn, c.dFf};
}

// Hooks that add delta.row(i) at (site, layer), batch row rows[i] (patch values are float).
template <typename M>
Hooks added(HookSite site, int layer, const std::vector<int>& rows, const M& delta) {
    Hooks h;
    for (size_t i = 0; i < rows.size(); ++i)
        h.patches.push_back({site, layer, rows[i], delta.row(Eigen::Index(i)).transpose().template cast<float>(),
                             PatchMode::Add});
    return h;
}

// |analytic - numeric| <= 1e-6 + 1e-5 |numeric|; reports the worst element.
struct GradCheck {
    double worst = 0;
    std::string where;
    void add(double analytic, double numeric, const std::string& what) {
        const double excess = std::abs(analytic - numeric) / (1e-6 + 1e-5 * std::abs(numeric));
        if (excess > worst) {
            worst = excess;
            where = what + ": analytic " + std::to_string(analytic) + ", numeric " +
                    std::to_string(numeric);
        }
    }
};

// Compares every `stride`-th element of each weight tensor's analytic gradient in
// `grads` with the central difference of loss() as that weight of `w` moves.
template <typename Loss>
GradCheck checkEveryWeight(const ModelConfig& c, WeightsT<double>& w, WeightsT<double>& grads,
                           Loss&& loss, Eigen::Index stride, int* checked = nullptr) {
    std::vector<const double*> analytic;
    forEachTensor(c, grads, [&](const std::string&, auto& t) { analytic.push_back(t.data()); });
    GradCheck check;
    size_t tensor = 0;
    const double h = 1e-5;
    forEachTensor(c, w, [&](const std::string& path, auto& t) {
        for (Eigen::Index i = 0; i < t.size(); i += stride) {
            double& x = t.data()[i];
            const double saved = x;
            x = saved + h;
            const double plus = loss();
            x = saved - h;
            const double minus = loss();
            x = saved;
            check.add(analytic[tensor][i], (plus - minus) / (2 * h),
                      path + "[" + std::to_string(i) + "]");
            if (checked) ++*checked;
        }
        ++tensor;
    });
    return check;
}

const int kBatch = 2;
const int kSeqLen = 5;

class BackpropGradients : public ::testing::TestWithParam<Case> {};

// loss = Σ logits ⊙ R for a random R, so d loss / d logits = R exercises every logit.
TEST_P(BackpropGradients, EveryWeightMatchesCentralDifferences) {
    const ModelConfig c = tinyConfig(GetParam());
    WeightsT<double> w = randomWeights(c, 7);
    const std::vector<int> tokens = randomTokens(kBatch * kSeqLen, c.vocabSize, 3);
    const MatrixD r = randomMatrix(kBatch * kSeqLen, c.vocabSize, 5);
    BackpropD bp(c, w);
    auto loss = [&] { return (bp.forward(tokens, kBatch, kSeqLen).array() * r.array()).sum(); };

    WeightsT<double> grads = zeroWeights<double>(c);
    loss();
    bp.backward(r, grads);

    int checked = 0;
    const GradCheck check = checkEveryWeight(c, w, grads, loss, 1, &checked);
    EXPECT_GT(checked, 500);
    EXPECT_LE(check.worst, 1.0) << check.where;
}

// d loss / d delta for a delta added to mlp_out of a layer at chosen rows.
TEST_P(BackpropGradients, MlpOutDeltaMatchesCentralDifferences) {
    const ModelConfig c = tinyConfig(GetParam());
    WeightsT<double> w = randomWeights(c, 11);
    const std::vector<int> tokens = randomTokens(kBatch * kSeqLen, c.vocabSize, 13);
    const MatrixD r = randomMatrix(kBatch * kSeqLen, c.vocabSize, 17);
    const std::vector<int> rows = {3, kSeqLen + 1, kSeqLen + 4};
    for (int layer = 0; layer < c.nLayers; ++layer) {
        BackpropD bp(c, w);
        bp.forward(tokens, kBatch, kSeqLen);
        // Multiples of 2^-8 and a step of 2^-12: delta ± h are exact in the float patches.
        MatrixD delta = (randomMatrix(Eigen::Index(rows.size()), c.dModel, 19 + layer) * 256).array().round() / 256;
        auto loss = [&] {
            return (bp.rerun(added(HookSite::MlpOut, layer, rows, delta)).array() * r.array()).sum();
        };
        loss();
        const MatrixD analytic = bp.backwardToPatches(r);
        ASSERT_EQ(analytic.rows(), Eigen::Index(rows.size()));
        GradCheck check;
        const double h = 1.0 / 4096;
        for (Eigen::Index i = 0; i < delta.size(); ++i) {
            const double saved = delta.data()[i];
            delta.data()[i] = saved + h;
            const double plus = loss();
            delta.data()[i] = saved - h;
            const double minus = loss();
            delta.data()[i] = saved;
            check.add(analytic.data()[i], (plus - minus) / (2 * h), "delta[" + std::to_string(i) + "]");
        }
        EXPECT_LE(check.worst, 1.0) << "layer " << layer << ": " << check.where;
    }
}

// A patch at every site of the differentiable pass: d loss / d (the activation it
// writes) matches central differences, for Add and for Replace patches (a replaced
// row cuts the gradient to what computed it, which the weight check below covers).
TEST_P(BackpropGradients, PatchGradientsAtEverySiteMatchCentralDifferences) {
    const ModelConfig c = tinyConfig(GetParam());
    const WeightsT<double> w = randomWeights(c, 101);
    const std::vector<int> tokens = randomTokens(kBatch * kSeqLen, c.vocabSize, 103);
    const MatrixD r = randomMatrix(kBatch * kSeqLen, c.vocabSize, 107);
    const std::vector<int> rows = {2, kSeqLen + 3};
    const std::pair<HookSite, int> sites[] = {{HookSite::Embed, 0},  {HookSite::ResidPre, 1}, {HookSite::AttnOut, 0},
                                              {HookSite::AttnOut, 1}, {HookSite::MlpIn, 0},    {HookSite::MlpIn, 1},
                                              {HookSite::MlpOut, 1},  {HookSite::ResidPost, 0}};
    for (const auto& [site, layer] : sites)
        for (PatchMode mode : {PatchMode::Add, PatchMode::Replace}) {
            if (site == HookSite::MlpIn && c.moeLayer(layer)) continue;
            const int width = site == HookSite::MlpIn ? c.dFf : c.dModel;
            MatrixD value = (randomMatrix(2, width, 109 + int(site)) * 256).array().round() / 256;
            BackpropD bp(c, w);
            auto loss = [&] {
                Hooks h = added(site, layer, rows, value);
                for (Patch& p : h.patches) p.mode = mode;
                return (bp.forward(tokens, kBatch, kSeqLen, h).array() * r.array()).sum();
            };
            loss();
            const MatrixD analytic = bp.backwardToPatches(r);
            ASSERT_EQ(analytic.rows(), 2);
            ASSERT_EQ(analytic.cols(), width);
            GradCheck check;
            const double h = 1.0 / 32768;
            for (Eigen::Index i = 0; i < value.size(); ++i) {
                const double saved = value.data()[i];
                value.data()[i] = saved + h;
                const double plus = loss();
                value.data()[i] = saved - h;
                const double minus = loss();
                value.data()[i] = saved;
                check.add(analytic.data()[i], (plus - minus) / (2 * h), "value[" + std::to_string(i) + "]");
            }
            const std::string what = toString(site) + " of layer " + std::to_string(layer) +
                                     (mode == PatchMode::Add ? ", add" : ", replace");
            EXPECT_LE(check.worst, 1.0) << what << ": " << check.where;
            EXPECT_GT(analytic.norm(), 0.0) << what;
        }
}

// Weight gradients of a pass with Replace and Add patches inside blocks match central
// differences: the replaced rows pass no gradient to the weights that computed them.
TEST_P(BackpropGradients, WeightGradientsWithPatchesMatchCentralDifferences) {
    const ModelConfig c = tinyConfig(GetParam());
    WeightsT<double> w = randomWeights(c, 113);
    const std::vector<int> tokens = randomTokens(kBatch * kSeqLen, c.vocabSize, 127);
    const MatrixD r = randomMatrix(kBatch * kSeqLen, c.vocabSize, 131);
    Hooks hooks = added(HookSite::AttnOut, 1, {1, kSeqLen + 2}, randomMatrix(2, c.dModel, 137));
    const auto [key0, width0] = mlpKeySite(c, 0);
    Hooks replaced = added(key0, 0, {3, kSeqLen}, randomMatrix(2, width0, 139));
    replaced.patches.push_back({HookSite::ResidPre, 1, 4, Vector::Constant(c.dModel, 0.25f), PatchMode::Replace});
    for (Patch p : replaced.patches) {
        p.mode = PatchMode::Replace;
        hooks.patches.push_back(p);
    }
    BackpropD bp(c, w);
    auto loss = [&] { return (bp.forward(tokens, kBatch, kSeqLen, hooks).array() * r.array()).sum(); };
    WeightsT<double> grads = zeroWeights<double>(c);
    loss();
    bp.backward(r, grads);
    int checked = 0;
    const GradCheck check = checkEveryWeight(c, w, grads, loss, 2, &checked);
    EXPECT_GT(checked, 250);
    EXPECT_LE(check.worst, 1.0) << check.where;
}

// rerun() with hooks inside a block gives the numbers of a full forward() with the
// same hooks, bit for bit; captures hold the patched activations.
TEST_P(BackpropGradients, RerunFromAHookedLayerEqualsAFullHookedPass) {
    const ModelConfig c = tinyConfig(GetParam());
    const WeightsT<double> w = randomWeights(c, 151);
    const std::vector<int> tokens = randomTokens(kBatch * kSeqLen, c.vocabSize, 157);
    const auto [key, width] = mlpKeySite(c, 1);
    Hooks hooks = added(key, 1, {2, kSeqLen + 1}, randomMatrix(2, width, 163));
    hooks.patches[1].mode = PatchMode::Replace;
    hooks.captures = {{key, 1}, {HookSite::ResidPost, 1}};
    BackpropD reused(c, w), full(c, w);
    reused.forward(tokens, kBatch, kSeqLen);
    const MatrixD a = reused.rerun(hooks);
    const MatrixD b = full.forward(tokens, kBatch, kSeqLen, hooks);
    EXPECT_TRUE(a == b);
    const MatrixD& mlpIn = reused.captured().at({key, 1});
    EXPECT_TRUE(mlpIn == full.captured().at({key, 1}));
    EXPECT_EQ(mlpIn.row(kSeqLen + 1), hooks.patches[1].value.transpose().cast<double>());
    // Hooks at layer 1 again reuse layer 0; after a pass hooked at layer 0, layer 1's
    // recorded input is no longer the unhooked one.
    EXPECT_TRUE(reused.rerun(hooks) == b);
    reused.rerun(added(HookSite::AttnOut, 0, {0}, randomMatrix(1, c.dModel, 1)));
    EXPECT_THROW(reused.rerun(hooks), InvalidInput);
    EXPECT_THROW(reused.rerun(added(HookSite::AttnPattern, 0, {0}, randomMatrix(1, c.dModel, 1))), InvalidInput);
    Hooks callback;
    callback.callback = [](const HookPoint&, Eigen::Ref<Matrix>) {};
    EXPECT_THROW(reused.forward(tokens, kBatch, kSeqLen, callback), InvalidInput);
}

// Every gradient tensor of `g` as a column, in forEachTensor's order.
template <typename T>
std::vector<MatrixT<T>> tensorColumns(const ModelConfig& c, WeightsT<T>& g) {
    std::vector<MatrixT<T>> out;
    forEachTensor(c, g, [&](const std::string&, auto& t) { out.push_back(Eigen::Map<const MatrixT<T>>(t.data(), t.size(), 1)); });
    return out;
}

// d loss / d logits over every row of a batch from one given at the selected rows.
MatrixD scatterRows(const MatrixD& selected, const std::vector<int>& rows, Eigen::Index nRows) {
    MatrixD full = MatrixD::Zero(nRows, selected.cols());
    for (size_t i = 0; i < rows.size(); ++i) full.row(rows[i]) += selected.row(Eigen::Index(i));
    return full;
}

// With `delta` added to layer 0's MLP output at `rows`, the gradient there from the full
// pass (d loss / d logits `rFull` at every row) equals the one from logits at the
// selected rows only (`r`), and is not zero.
void expectSameGradientAtMlpOut(BackpropD& full, BackpropD& selected, const MatrixD& rFull, const MatrixD& r,
                                const std::vector<int>& rows, const MatrixD& delta) {
    full.rerun(added(HookSite::MlpOut, 0, rows, delta));
    selected.rerun(added(HookSite::MlpOut, 0, rows, delta));
    const MatrixD dFull = full.backwardToPatches(rFull), dSome = selected.backwardToPatches(r);
    EXPECT_LT((dFull - dSome).cwiseAbs().maxCoeff(), 1e-12);
    EXPECT_GT(dSome.norm(), 0.0);
}

// Recomputing each layer's activations during the backward pass (activation
// checkpointing) gives exactly the gradients of keeping them, for the full backward
// pass and for the delta pass ROME's value optimisation uses; repeated passes too.
TEST_P(BackpropGradients, RecomputedActivationsGiveTheSameGradients) {
    const ModelConfig c = tinyConfig(GetParam());
    const WeightsT<float> w = castWeights<float>(randomWeights(c, 37));
    const std::vector<int> tokens = randomTokens(kBatch * kSeqLen, c.vocabSize, 41);
    const Matrix r = randomMatrix(kBatch * kSeqLen, c.vocabSize, 43).cast<float>();
    const std::vector<int> rows = {2, kSeqLen + 3};
    Backprop keep(c, w, ActivationMemory::KeepAll), recompute(c, w, ActivationMemory::Recompute);
    for (int pass = 0; pass < 2; ++pass) {
        WeightsT<float> gk = zeroWeights<float>(c), gr = zeroWeights<float>(c);
        ASSERT_TRUE(keep.forward(tokens, kBatch, kSeqLen) == recompute.forward(tokens, kBatch, kSeqLen));
        keep.backward(r, gk);
        recompute.backward(r, gr);
        const std::vector<Matrix> a = tensorColumns(c, gk), b = tensorColumns(c, gr);
        ASSERT_EQ(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i] == b[i]) << "tensor " << i << ", pass " << pass;

        const int layer = 0;  // layer 1 is run backward
        const Matrix delta = randomMatrix(Eigen::Index(rows.size()), c.dModel, 47 + pass).cast<float>();
        ASSERT_TRUE(keep.rerun(added(HookSite::MlpOut, layer, rows, delta)) == recompute.rerun(added(HookSite::MlpOut, layer, rows, delta)));
        const Matrix dk = keep.backwardToPatches(r), dr = recompute.backwardToPatches(r);
        EXPECT_TRUE(dk == dr) << "pass " << pass;
        EXPECT_GT(dk.norm(), 0.0f);
    }
}

// Logits at selected rows only (what ROME's value optimisation reads) equal those rows
// of the full pass, and every gradient equals the full pass's with d loss / d logits
// zero at the other rows; a selected row outside the batch is refused.
TEST_P(BackpropGradients, SelectedLogitRowsGiveTheFullPassesRowsAndGradients) {
    const ModelConfig c = tinyConfig(GetParam());
    const WeightsT<double> w = randomWeights(c, 61);
    const std::vector<int> tokens = randomTokens(kBatch * kSeqLen, c.vocabSize, 67);
    const std::vector<int> logitRows = {kSeqLen + 4, 3, kSeqLen - 1, 3};  // any order, repeats
    const MatrixD r = randomMatrix(Eigen::Index(logitRows.size()), c.vocabSize, 71);
    const MatrixD rFull = scatterRows(r, logitRows, kBatch * kSeqLen);

    BackpropD full(c, w), selected(c, w);
    selected.setLogitRows(logitRows);
    const MatrixD all = full.forward(tokens, kBatch, kSeqLen);
    const MatrixD some = selected.forward(tokens, kBatch, kSeqLen);
    ASSERT_EQ(some.rows(), Eigen::Index(logitRows.size()));
    for (size_t i = 0; i < logitRows.size(); ++i)
        EXPECT_LT((some.row(Eigen::Index(i)) - all.row(logitRows[i])).cwiseAbs().maxCoeff(), 1e-12);

    WeightsT<double> gFull = zeroWeights<double>(c), gSome = zeroWeights<double>(c);
    full.backward(rFull, gFull);
    selected.backward(r, gSome);
    const std::vector<MatrixD> a = tensorColumns(c, gFull), b = tensorColumns(c, gSome);
    std::vector<std::string> paths;
    forEachTensor(c, gSome, [&](const std::string& path, const auto&) { paths.push_back(path); });
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_LT((a[i] - b[i]).cwiseAbs().maxCoeff(), 1e-12) << paths[i];
        // The check is not vacuous; only an expert no token is routed to has no gradient.
        if (paths[i].find("/moe/experts/") == std::string::npos) {
            EXPECT_GT(b[i].norm(), 0.0) << paths[i];
        }
    }

    expectSameGradientAtMlpOut(full, selected, rFull, r, {2, kSeqLen + 1}, randomMatrix(2, c.dModel, 73));

    selected.setLogitRows({kBatch * kSeqLen});
    EXPECT_THROW(selected.forward(tokens, kBatch, kSeqLen), InvalidInput);
}

// Float logits of the batched pass equal the inference forward pass (per sequence,
// and with an added MLP-output patch), and the double pass to float rounding.
TEST_P(BackpropGradients, LogitsAgreeWithInferenceForwardAndDouble) {
    const ModelConfig c = tinyConfig(GetParam());
    const WeightsT<double> wd = randomWeights(c, 23);
    Model model;
    model.config = c;
    model.weights = castWeights<float>(wd);
    const std::vector<int> tokens = randomTokens(kBatch * kSeqLen, c.vocabSize, 29);

    Backprop bpf(c, model.weights);
    BackpropD bpd(c, wd);
    const Matrix logits = bpf.forward(tokens, kBatch, kSeqLen);
    const MatrixD logitsD = bpd.forward(tokens, kBatch, kSeqLen);
    EXPECT_LT((logits.cast<double>() - logitsD).cwiseAbs().maxCoeff(), 1e-4);

    const Transformer transformer(model);
    const int layer = 0, pos = 2;
    const Matrix delta = randomMatrix(kBatch, c.dModel, 31).cast<float>();
    const std::vector<int> rows = {pos, kSeqLen + pos};
    const Matrix patched = bpf.rerun(added(HookSite::MlpOut, layer, rows, delta));
    for (int b = 0; b < kBatch; ++b) {
        const std::vector<int> seq(tokens.begin() + b * kSeqLen, tokens.begin() + (b + 1) * kSeqLen);
        const RunState clean = transformer.run(seq, {}, LogitsMode::All);
        EXPECT_LT((clean.logits - logits.middleRows(b * kSeqLen, kSeqLen)).cwiseAbs().maxCoeff(),
                  1e-4);
        Hooks hooks;
        hooks.patches = {{HookSite::MlpOut, layer, pos, delta.row(b).transpose(), PatchMode::Add}};
        const RunState edited = transformer.run(seq, hooks, LogitsMode::All);
        EXPECT_LT((edited.logits - patched.middleRows(b * kSeqLen, kSeqLen)).cwiseAbs().maxCoeff(),
                  1e-4);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Architectures, BackpropGradients,
    ::testing::Values(Case{"gpt2_gelutanh_untied", Architecture::Gpt2, Activation::GeluTanh, false, 0},
                      Case{"gpt2_gelu_tied", Architecture::Gpt2, Activation::Gelu, true, 0},
                      Case{"gpt2_relu_untied", Architecture::Gpt2, Activation::Relu, false, 0},
                      Case{"gpt2_silu_tied", Architecture::Gpt2, Activation::Silu, true, 0},
                      Case{"llama_silu_gqa_untied", Architecture::Llama, Activation::Silu, false, 2},
                      Case{"qwen2_qkv_bias_gqa_tied", Architecture::Llama, Activation::Silu, true, 2, true},
                      Case{"llama_silu_tied", Architecture::Llama, Activation::Silu, true, 0},
                      Case{"llama_gelutanh_mqa_untied", Architecture::Llama, Activation::GeluTanh,
                           false, 1},
                      // Windows shorter than kSeqLen, partial rotary of 2 of the 4 (or 6) head dimensions.
                      Case{"mistral_sliding_window", Architecture::Llama, Activation::Silu, false, 2, false,
                           [](ModelConfig& c) { c.slidingWindow = 2; }},
                      Case{"gptj_partial_interleaved_rotary", Architecture::GptJ, Activation::GeluTanh, false, 0,
                           false, [](ModelConfig& c) { c.rotaryDim = 2; }},
                      Case{"gpt_neox_parallel", Architecture::GptNeoX, Activation::Gelu, false, 0, false,
                           [](ModelConfig& c) {
                               c.rotaryDim = 2;
                               c.parallelResidual = true;
                           }},
                      Case{"gpt_neox_sequential_tied", Architecture::GptNeoX, Activation::Gelu, true, 0, false,
                           [](ModelConfig& c) { c.rotaryDim = 2; }},
                      Case{"qwen3_qk_norm_head_dim", Architecture::Qwen3, Activation::Silu, false, 2, false,
                           [](ModelConfig& c) { c.headDim = 6; }},
                      Case{"gemma2", Architecture::Gemma2, Activation::GeluTanh, true, 2, false,
                           [](ModelConfig& c) {
                               c.headDim = 6;
                               c.attnSoftcap = 3.0f;
                               c.finalSoftcap = 4.0f;
                               c.queryPreAttnScalar = 5.0f;
                               c.slidingWindow = 3;
                               c.slidingLayers = SlidingLayers::Even;
                           }},
                      Case{"phi3_sliding_partial_rotary", Architecture::Phi3, Activation::Silu, false, 2, false,
                           [](ModelConfig& c) {
                               c.slidingWindow = 3;
                               c.rotaryDim = 2;
                           }},
                      Case{"olmo2_post_norms", Architecture::Olmo2, Activation::Silu, false, 2},
                      // Mixtures of experts (docs/mixture-of-experts.md): renormalised or not, with a
                      // shared expert and a dense layer, sparse every second layer.
                      Case{"mixtral_experts_renormalised", Architecture::Llama, Activation::Silu, false, 2, false,
                           [](ModelConfig& c) {
                               c.nExperts = 4;
                               c.nExpertsPerToken = 2;
                               c.dExpert = 6;
                               c.normTopK = true;
                           }},
                      Case{"qwen2_moe_shared_expert_dense_layer", Architecture::Llama, Activation::Silu, true, 2, true,
                           [](ModelConfig& c) {
                               c.nExperts = 4;
                               c.nExpertsPerToken = 2;
                               c.dExpert = 5;
                               c.dSharedExpert = 7;
                               c.denseLayers = {1};
                           }},
                      Case{"olmoe_experts", Architecture::Olmoe, Activation::Silu, false, 2, false,
                           [](ModelConfig& c) {
                               c.nExperts = 3;
                               c.nExpertsPerToken = 2;
                               c.dExpert = 6;
                           }},
                      Case{"qwen3_moe_every_second_layer", Architecture::Qwen3, Activation::Silu, false, 2, false,
                           [](ModelConfig& c) {
                               c.headDim = 6;
                               c.nExperts = 5;
                               c.nExpertsPerToken = 3;
                               c.dExpert = 4;
                               c.normTopK = true;
                               c.moeEvery = 2;
                           }}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// Sequences longer than the attention's causal block (32 rows) take the blocked path:
// logits still equal the inference pass and attention gradients still match.
TEST(Backprop, LongSequencesMatchInferenceAndFiniteDifferences) {
    for (const Case& k : {Case{"", Architecture::Gpt2, Activation::GeluTanh, false, 0},
                          Case{"", Architecture::Llama, Activation::Silu, false, 2}}) {
        ModelConfig c = tinyConfig(k);
        c.nCtx = 80;
        const int batch = 2, len = 70;
        WeightsT<double> w = randomWeights(c, 61);
        const std::vector<int> tokens = randomTokens(batch * len, c.vocabSize, 67);
        Model model;
        model.config = c;
        model.weights = castWeights<float>(w);
        Backprop bpf(c, model.weights);
        const Matrix logits = bpf.forward(tokens, batch, len);
        const Transformer transformer(model);
        for (int b = 0; b < batch; ++b) {
            const std::vector<int> seq(tokens.begin() + b * len, tokens.begin() + (b + 1) * len);
            const RunState s = transformer.run(seq, {}, LogitsMode::All);
            EXPECT_LT((s.logits - logits.middleRows(b * len, len)).cwiseAbs().maxCoeff(), 1e-4);
        }

        const MatrixD r = randomMatrix(batch * len, c.vocabSize, 71);
        BackpropD bp(c, w);
        auto loss = [&] { return (bp.forward(tokens, batch, len).array() * r.array()).sum(); };
        WeightsT<double> grads = zeroWeights<double>(c);
        loss();
        bp.backward(r, grads);
        GradCheck check;
        const double h = 1e-5;
        auto& block = w.blocks[1];
        auto& gblock = grads.blocks[1];
        for (auto [t, g, name] : {std::tuple{&block.q.weight, &gblock.q.weight, "q"},
                                  std::tuple{&block.k.weight, &gblock.k.weight, "k"},
                                  std::tuple{&block.v.weight, &gblock.v.weight, "v"}}) {
            for (Eigen::Index i = 0; i < t->size(); i += 7) {
                double& x = t->data()[i];
                const double saved = x;
                x = saved + h;
                const double plus = loss();
                x = saved - h;
                const double minus = loss();
                x = saved;
                check.add(g->data()[i], (plus - minus) / (2 * h), std::string(name) + "[" + std::to_string(i) + "]");
            }
        }
        EXPECT_LE(check.worst, 1.0) << check.where;
    }
}

// Keys blocked beyond causality (training's subject routing): every weight's
// gradient still matches central differences, through the masked softmax.
TEST(Backprop, BlockedKeysGradientsMatchCentralDifferences) {
    for (const Case& k : {Case{"", Architecture::Gpt2, Activation::GeluTanh, false, 0},
                          Case{"", Architecture::Llama, Activation::Silu, false, 2}}) {
        const ModelConfig c = tinyConfig(k);
        WeightsT<double> w = randomWeights(c, 73);
        const std::vector<int> tokens = randomTokens(kBatch * kSeqLen, c.vocabSize, 79);
        const MatrixD r = randomMatrix(kBatch * kSeqLen, c.vocabSize, 83);
        BackpropD bp(c, w);
        bp.setBlockedKeys({{.sequence = 0, .keyBegin = 0, .keyEnd = 2, .queryBegin = 3},
                           {.sequence = 1, .keyBegin = 1, .keyEnd = 2, .queryBegin = 2},
                           {.sequence = 1, .keyBegin = 2, .keyEnd = 3, .queryBegin = 3,
                            .layerEnd = 1}});
        auto loss = [&] { return (bp.forward(tokens, kBatch, kSeqLen).array() * r.array()).sum(); };
        WeightsT<double> grads = zeroWeights<double>(c);
        const double masked = loss();
        bp.backward(r, grads);

        const GradCheck check = checkEveryWeight(c, w, grads, loss, 3);
        EXPECT_LE(check.worst, 1.0) << check.where;

        bp.setBlockedKeys({});
        EXPECT_GT(std::abs(loss() - masked), 1e-6) << "the masks changed nothing";
    }
}

// In a one-layer model a query reads only the values of the keys it attends to, so
// the logits at the queries behind a block do not depend on the blocked tokens at all
// (bit for bit), while without the block they do.
TEST(Backprop, BlockedKeysAreNotReadByTheQueriesBehindThem) {
    ModelConfig c = tinyConfig({"", Architecture::Gpt2, Activation::GeluTanh, false, 0});
    c.nLayers = 1;
    const WeightsT<double> w = randomWeights(c, 89);
    std::vector<int> a = randomTokens(kSeqLen, c.vocabSize, 97);
    std::vector<int> b = a;
    b[1] = (a[1] + 1) % c.vocabSize;  // the blocked key
    b[2] = (a[2] + 3) % c.vocabSize;
    BackpropD bp(c, w);
    bp.setBlockedKeys({{.sequence = 0, .keyBegin = 1, .keyEnd = 3, .queryBegin = 3}});
    const MatrixD la = bp.forward(a, 1, kSeqLen);
    const MatrixD lb = bp.forward(b, 1, kSeqLen);
    EXPECT_TRUE(la.bottomRows(kSeqLen - 3) == lb.bottomRows(kSeqLen - 3));
    EXPECT_GT((la.row(2) - lb.row(2)).cwiseAbs().maxCoeff(), 1e-6);  // before the block
    bp.setBlockedKeys({});
    const MatrixD ua = bp.forward(a, 1, kSeqLen);
    const MatrixD ub = bp.forward(b, 1, kSeqLen);
    EXPECT_GT((ua.bottomRows(kSeqLen - 3) - ub.bottomRows(kSeqLen - 3)).cwiseAbs().maxCoeff(), 1e-6);
}

// A block with layerEnd applies in the layers below it only: in one layer, layerEnd 1
// is the whole block and 0 no block, bit for bit; in two layers, layerEnd 1 is neither.
TEST(Backprop, BlockedKeysApplyBelowTheirLayerEnd) {
    ModelConfig c = tinyConfig({"", Architecture::Gpt2, Activation::GeluTanh, false, 0});
    const std::vector<int> tokens = randomTokens(kSeqLen, c.vocabSize, 101);
    auto logits = [&](int layers, int layerEnd) {
        c.nLayers = layers;
        const WeightsT<double> w = randomWeights(c, 103);
        BackpropD bp(c, w);
        if (layerEnd >= 0)
            bp.setBlockedKeys({{.sequence = 0, .keyBegin = 1, .keyEnd = 3, .queryBegin = 3,
                                .layerEnd = layerEnd}});
        return MatrixD(bp.forward(tokens, 1, kSeqLen));
    };
    const int all = std::numeric_limits<int>::max();
    EXPECT_TRUE(logits(1, 1) == logits(1, all));
    EXPECT_TRUE(logits(1, 0) == logits(1, -1));
    EXPECT_FALSE(logits(1, 1) == logits(1, -1));
    const MatrixD firstOnly = logits(2, 1);
    EXPECT_GT((firstOnly - logits(2, all)).cwiseAbs().maxCoeff(), 1e-9);
    EXPECT_GT((firstOnly - logits(2, -1)).cwiseAbs().maxCoeff(), 1e-9);
    EXPECT_TRUE(firstOnly.topRows(3) == logits(2, -1).topRows(3));  // queries before the block
}

TEST(Backprop, CrossEntropyLossAndGradient) {
    const MatrixD logits = randomMatrix(4, 7, 37) * 3.0;
    const std::vector<int> targets = {2, -1, 6, 0};
    MatrixD d;
    const double loss = crossEntropy(logits, targets, d);
    double expected = 0;
    for (int r : {0, 2, 3}) {
        const double lse = std::log(logits.row(r).array().exp().sum());
        expected += lse - logits(r, targets[r]);
    }
    EXPECT_NEAR(loss, expected / 3.0, 1e-12);
    EXPECT_EQ(d.row(1).cwiseAbs().maxCoeff(), 0.0);
    const double h = 1e-6;
    for (Eigen::Index i = 0; i < logits.size(); ++i) {
        MatrixD lp = logits, lm = logits, scratch;
        lp.data()[i] += h;
        lm.data()[i] -= h;
        const double numeric =
            (crossEntropy(lp, targets, scratch) - crossEntropy(lm, targets, scratch)) / (2 * h);
        EXPECT_NEAR(d.data()[i], numeric, 1e-8);
    }
    // In place (dLogits aliasing logits) gives the same.
    MatrixD inPlace = logits;
    EXPECT_EQ(crossEntropy(inPlace, targets, inPlace), loss);
    EXPECT_EQ(inPlace, d);
    const std::vector<int> bad = {2, -1, 7, 0};
    EXPECT_THROW(crossEntropy(logits, bad, d), InvalidInput);
}

TEST(Backprop, DeltaPassesReuseThePrefixAndCheckTheirLayer) {
    const ModelConfig c = tinyConfig({"", Architecture::Gpt2, Activation::GeluTanh, false, 0});
    const WeightsT<double> w = randomWeights(c, 41);
    const std::vector<int> tokens = randomTokens(kBatch * kSeqLen, c.vocabSize, 43);
    BackpropD bp(c, w);
    const MatrixD clean = bp.forward(tokens, kBatch, kSeqLen);
    const std::vector<int> rows = {1, 6};
    const MatrixD zero = MatrixD::Zero(2, c.dModel);
    EXPECT_EQ(bp.rerun(added(HookSite::MlpOut, 1, rows, zero)), clean);
    EXPECT_EQ(bp.rerun(added(HookSite::MlpOut, 0, rows, zero)), clean);  // lower layer: still clean below
    EXPECT_THROW(bp.rerun(added(HookSite::MlpOut, 1, rows, zero)), InvalidInput);  // above: stale
    const std::vector<int> outside = {1, 99};
    EXPECT_THROW(bp.rerun(added(HookSite::MlpOut, 0, outside, zero)), InvalidInput);
    bp.forward(tokens, kBatch, kSeqLen);
    EXPECT_EQ(bp.rerun(added(HookSite::MlpOut, 1, rows, zero)), clean);

    // Weight gradients from a delta backward equal those of a full backward for the
    // layers above the delta, and the passes are bitwise repeatable.
    const MatrixD r = randomMatrix(kBatch * kSeqLen, c.vocabSize, 47);
    const MatrixD delta = randomMatrix(2, c.dModel, 53);
    bp.forward(tokens, kBatch, kSeqLen);
    bp.rerun(added(HookSite::MlpOut, 0, rows, delta));
    WeightsT<double> partial = zeroWeights<double>(c), full = zeroWeights<double>(c),
                     again = zeroWeights<double>(c);
    bp.backwardToPatches(r, &partial);
    bp.backward(r, full);
    bp.backward(r, again);
    EXPECT_EQ(partial.blocks[1].down.weight, full.blocks[1].down.weight);
    EXPECT_EQ(partial.blocks[1].q.weight, full.blocks[1].q.weight);
    EXPECT_EQ(partial.lmHead, full.lmHead);
    EXPECT_EQ(partial.blocks[0].q.weight.cwiseAbs().maxCoeff(), 0.0);
    EXPECT_EQ(again.tokenEmbedding, full.tokenEmbedding);
    EXPECT_EQ(again.blocks[0].q.weight, full.blocks[0].q.weight);
}

// The same at a width where the backward pass's products are split over row slices
// (which need their outputs sized to the whole batch, not to the logit rows).
TEST(Backprop, SelectedLogitRowsAtAWidthThatRunsInParallel) {
    ModelConfig c = tinyConfig({"", Architecture::Gpt2, Activation::GeluTanh, true, 0});
    c.dModel = 32;
    c.nHeads = 4;
    c.nKvHeads = 4;
    c.dFf = 128;
    c.nCtx = 16;
    const int batch = 4, seqLen = 16;  // 64 rows x 128 x 32: above the parallel threshold
    const WeightsT<double> w = randomWeights(c, 79);
    const std::vector<int> tokens = randomTokens(batch * seqLen, c.vocabSize, 83);
    const std::vector<int> logitRows = {seqLen - 1, 2 * seqLen + 5, 3 * seqLen + 9};
    const MatrixD r = randomMatrix(3, c.vocabSize, 89);
    const MatrixD rFull = scatterRows(r, logitRows, batch * seqLen);
    BackpropD full(c, w), selected(c, w);
    selected.setLogitRows(logitRows);
    full.forward(tokens, batch, seqLen);
    selected.forward(tokens, batch, seqLen);
    expectSameGradientAtMlpOut(full, selected, rFull, r, {3, seqLen + 3, 2 * seqLen + 3, 3 * seqLen + 3},
                               randomMatrix(4, c.dModel, 97));
}

TEST(Backprop, RejectsBadInput) {
    const ModelConfig c = tinyConfig({"", Architecture::Llama, Activation::Silu, true, 2});
    const WeightsT<double> w = randomWeights(c, 59);
    BackpropD bp(c, w);
    EXPECT_THROW(bp.forward(std::vector<int>(10, 0), 2, 4), InvalidInput);
    EXPECT_THROW(bp.forward(std::vector<int>(18, 0), 2, 9), InvalidInput);  // > nCtx
    EXPECT_THROW(bp.forward(std::vector<int>{0, 1, 11, 2}, 1, 4), InvalidInput);
    EXPECT_THROW(bp.rerun(added(HookSite::MlpOut, 0, {}, MatrixD(0, c.dModel))), InvalidInput);
    const std::vector<int> tokens(8, 0);
    for (const bp::BlockedKeys& bad : {bp::BlockedKeys{2, 0, 1, 2},    // no third sequence
                                       bp::BlockedKeys{0, 1, 1, 2},    // no key
                                       bp::BlockedKeys{0, 0, 3, 2},    // hides the query itself
                                       bp::BlockedKeys{1, 0, 1, 4}}) { // no such query
        bp.setBlockedKeys({bad});
        EXPECT_THROW(bp.forward(tokens, 2, 4), InvalidInput);
    }
    bp.setBlockedKeys({{1, 0, 1, 3}});
    EXPECT_NO_THROW(bp.forward(tokens, 2, 4));
}

}  // namespace
}  // namespace mwb

namespace mwb {
namespace {

// The load-balancing loss: its value by hand from the routing of the pass, and the
// gradient of logits·R + balance against central differences (the routing does not
// change under the steps, so f stays constant as the loss assumes).
TEST(Backprop, RouterBalanceLossValueAndGradient) {
    const Case k{"", Architecture::Llama, Activation::Silu, false, 2, false, [](ModelConfig& c) {
                     c.nExperts = 4;
                     c.nExpertsPerToken = 2;
                     c.dExpert = 6;
                     c.normTopK = true;
                 }};
    const ModelConfig c = tinyConfig(k);
    WeightsT<double> w = randomWeights(c, 71);
    const std::vector<int> tokens = randomTokens(kBatch * kSeqLen, c.vocabSize, 73);
    const MatrixD r = randomMatrix(kBatch * kSeqLen, c.vocabSize, 79);
    const double alpha = 0.7;
    BackpropD bp(c, w);
    bp.setRouterBalance(alpha);
    auto loss = [&] { return (bp.forward(tokens, kBatch, kSeqLen).array() * r.array()).sum() + bp.routerBalanceLoss(); };

    // By hand from the inference pass's router logits of both sequences.
    Model model;
    model.config = c;
    model.weights = castWeights<float>(w);
    const Transformer transformer(model);
    Hooks capture;
    for (int l = 0; l < c.nLayers; ++l) capture.captures.push_back({HookSite::RouterLogits, l});
    std::vector<MatrixD> logits(size_t(c.nLayers));
    for (int b = 0; b < kBatch; ++b) {
        const std::vector<int> seq(tokens.begin() + b * kSeqLen, tokens.begin() + (b + 1) * kSeqLen);
        const RunState s = transformer.run(seq, capture, LogitsMode::None);
        for (int l = 0; l < c.nLayers; ++l) {
            MatrixD& m = logits[size_t(l)];
            m.conservativeResize(m.rows() + kSeqLen, c.nExperts);
            m.bottomRows(kSeqLen) = s.captured.at({HookSite::RouterLogits, l}).cast<double>();
        }
    }
    double expected = 0;
    for (const MatrixD& m : logits) {
        Eigen::VectorXd routed = Eigen::VectorXd::Zero(c.nExperts), prob = routed;
        for (Eigen::Index t = 0; t < m.rows(); ++t) {
            Eigen::VectorXd p = (m.row(t).array() - m.row(t).maxCoeff()).exp();
            p /= p.sum();
            prob += p / double(m.rows());
            Eigen::Index first, second;
            m.row(t).maxCoeff(&first);
            MatrixD rest = m.row(t);
            rest(0, first) = -1e300;
            rest.row(0).maxCoeff(&second);
            routed[first] += 1.0 / (2.0 * double(m.rows()));
            routed[second] += 1.0 / (2.0 * double(m.rows()));
        }
        expected += alpha * c.nExperts * routed.dot(prob) / c.nLayers;
    }
    loss();
    EXPECT_NEAR(bp.routerBalanceLoss(), expected, 1e-5);
    EXPECT_GT(bp.routerBalanceLoss(), alpha);  // random routing is not balanced

    WeightsT<double> grads = zeroWeights<double>(c);
    loss();
    bp.backward(r, grads);
    const GradCheck check = checkEveryWeight(c, w, grads, loss, 1);
    EXPECT_LE(check.worst, 1.0) << check.where;
}

}  // namespace
}  // namespace mwb
