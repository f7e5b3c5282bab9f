// ROME on a tiny random model of every architecture: the edit raises the new target on
// the prompt several-fold, and undoing it restores the weights bit for bit. ROME's mlp.down is each
// architecture's MLP output projection (GPT-J fc_out, GPT-NeoX dense_4h_to_h, the
// others down_proj); its key is that projection's input (docs/editing.md).
#include <gtest/gtest.h>

#include "editing/edit_history.h"
#include "editing/rome.h"
#include "editing/second_moments.h"
#include "model/transformer.h"
#include "tests/editing/tiny_corpus.h"
#include "tests/support/test_models.h"
#include "tokenizer/continuation.h"

namespace mwb {
namespace {

double probOf(const Model& m, const std::string& prompt, const std::string& target) {
    const auto ids = continuationIds(m.tokenizer, prompt, target);
    return softmax(Transformer(m).run(m.tokenizer.encodeIds(prompt)).lastLogits())[ids[0]];
}

class EditEveryArchitecture : public ::testing::TestWithParam<Architecture> {};

TEST_P(EditEveryArchitecture, RomeWritesTheFactAndUndoRestoresTheWeights) {
    TinyModelOptions o;
    o.nLayers = 2;
    o.weightStd = 0.3f;
    Model m = makeTinyModel(GetParam(), 21, o);
    const Weights original = m.weights;
    RomeParams p;
    p.layer = 0;
    p.templates.lengths = {{2, 3}};
    p.templates.seed = 3;
    p.factToken = FactToken::Last;
    p.keyMode = KeyMode::Original;
    // A random model needs a free hand: no weight decay, until the prompt says the target.
    p.value.steps = 100;
    p.value.weightDecay = 0;
    p.value.stopRule = StopRule::Target;
    p.value.stopLoss = 0.7;
    const EditRequest req = {"{} is in ", "cat", "d", ""};
    SecondMomentOptions so;
    so.useCache = false;
    const MatrixD moment = secondMoment(m, 0, test_data::kTinyCorpus, so).moment;
    const double before = probOf(m, "cat is in ", "d");
    const RomeResult r = computeRome(m, req, p, moment);
    // A random two-layer model cannot be made to say anything with certainty through one
    // MLP output; the target's probability rises several-fold.
    EXPECT_GT(r.probTargetFinal, 4 * r.probTargetInit) << r.loss.size() << " steps, loss " << r.loss.front()
                                                      << " -> " << r.loss.back();
    EXPECT_LT(r.loss.back(), 0.75 * r.loss.front());

    EditRecord rec;
    rec.method = "rome";
    rec.layers = {0};
    rec.left = {r.left};
    rec.right = {r.right};
    applyEdit(m, rec);
    EXPECT_GT(probOf(m, "cat is in ", "d"), 3 * before) << toString(GetParam());
    undoLastEdit(m);
    EXPECT_TRUE(m.weights.blocks[0].down.weight == original.blocks[0].down.weight);
}

INSTANTIATE_TEST_SUITE_P(Architectures, EditEveryArchitecture,
                         ::testing::Values(Architecture::Gpt2, Architecture::Llama, Architecture::GptJ,
                                           Architecture::GptNeoX, Architecture::Qwen3, Architecture::Gemma2,
                                           Architecture::Phi3, Architecture::Olmo2),
                         [](const ::testing::TestParamInfo<Architecture>& info) { return toString(info.param); });

}  // namespace
}  // namespace mwb
