// The demo model loaded with its linear weights (all but mlp/down) kept in float16 or
// bfloat16 (--weights): how far its logits and next-token probabilities move from the
// float32 model's. The bounds are those measured (docs/performance.md) with margin:
// bfloat16 keeps 8 bits of mantissa, float16 11, so bfloat16 moves about 8 times as far.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/hdf5_model_file.h"
#include "model/transformer.h"

namespace mwb {
namespace {

const std::string kDemo = std::string(MWB_SOURCE_DIR) + "/resources/models/demo.h5";

struct Drift {
    double logit = 0;  // max |logit - float32 logit| over positions and tokens
    double prob = 0;   // max |p - float32 p| of the next token
    int top1Changes = 0;
};

Drift driftOf(WeightPrecision precision, const std::vector<int>& ids) {
    LoadOptions full, half;
    full.precision = WeightPrecision::Float32;
    half.precision = precision;
    const Model a = loadModel(kDemo, full), b = loadModel(kDemo, half);
    EXPECT_TRUE(b.weights.blocks[0].up.isHalf());
    const RunState ra = Transformer(a).run(ids, {}, LogitsMode::All);
    const RunState rb = Transformer(b).run(ids, {}, LogitsMode::All);
    Drift d;
    d.logit = (ra.logits - rb.logits).cwiseAbs().maxCoeff();
    for (Eigen::Index r = 0; r < ra.logits.rows(); ++r) {
        const Vector pa = softmax(ra.logits.row(r)), pb = softmax(rb.logits.row(r));
        d.prob = std::max(d.prob, double((pa - pb).cwiseAbs().maxCoeff()));
        Eigen::Index ia, ib;
        pa.maxCoeff(&ia);
        pb.maxCoeff(&ib);
        d.top1Changes += ia != ib;
    }
    return d;
}

TEST(HalfPrecisionAccuracy, Float16AndBfloat16StayCloseToFloat32OnTheDemoModel) {
    if (!std::filesystem::exists(kDemo)) GTEST_SKIP() << kDemo << " is absent";
    const Model m = loadModel(kDemo);
    const std::vector<int> ids = m.tokenizer.encodeIds("The Eiffel Tower is located in the city of Paris, which is");
    const Drift f16 = driftOf(WeightPrecision::Float16, ids);
    const Drift bf16 = driftOf(WeightPrecision::BFloat16, ids);
    std::printf("float16: max |logit diff| %.3g, max |p diff| %.3g, top-1 changes %d of %zu\n", f16.logit, f16.prob,
                f16.top1Changes, ids.size());
    std::printf("bfloat16: max |logit diff| %.3g, max |p diff| %.3g, top-1 changes %d of %zu\n", bf16.logit,
                bf16.prob, bf16.top1Changes, ids.size());
    EXPECT_GT(f16.logit, 0.0);
    EXPECT_LT(f16.logit, 0.02);
    EXPECT_LT(bf16.logit, 0.2);
    EXPECT_GT(bf16.logit, f16.logit);  // fewer mantissa bits
    EXPECT_LT(bf16.prob, 0.02);
    EXPECT_EQ(f16.top1Changes, 0);
}

}  // namespace
}  // namespace mwb
