// The inference forward pass of both architectures, with hooks and prefix reuse.
//
// A RunState keeps everything a later run can reuse: the residual stream at every
// block boundary and the attention keys/values of every layer. `rerun` recomputes
// only layers >= fromLayer at positions >= fromPos, which is exact because of the
// causal mask (earlier positions never see later ones) and because a block only
// reads the residual below it. Causal tracing, generation and editing build on it.
#pragma once

#include <map>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "model/hooks.h"
#include "model/model.h"
#include "model/weight_overrides.h"

namespace mwb {

enum class LogitsMode { Last, All, None };

// The routing decision of one mixture-of-experts layer (docs/mixture-of-experts.md):
// per token (row), the chosen experts in order of weight and their mixing weights as
// they enter the output (after any renormalisation). [capacity x nExpertsPerToken],
// first nTokens rows valid.
struct LayerRouting {
    Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> experts;
    Matrix weights;
};

struct RunState {
    std::vector<int> tokens;
    int nTokens = 0;
    // resid[l]: input of block l ([capacity x dModel], first nTokens rows valid);
    // resid[nLayers]: output of the last block (before the final norm).
    std::vector<Matrix> resid;
    std::vector<Matrix> keys;    // per layer [capacity x nKvHeads*dHead], after RoPE
    std::vector<Matrix> values;  // per layer [capacity x nKvHeads*dHead]
    // Logits of the rows computed by the last run: with LogitsMode::Last one row
    // (the last position), with All rows [logitsFirstPos, nTokens).
    Matrix logits;
    int logitsFirstPos = 0;
    std::map<std::pair<HookSite, int>, Matrix> captured;  // full [nTokens x dim]
    // Captures of expert sites by (site, layer, expert), full [nTokens x dim].
    std::map<std::tuple<HookSite, int, int>, Matrix> capturedExperts;
    // Per layer; empty for dense layers.
    std::vector<LayerRouting> routing;

    RowVector lastLogits() const { return logits.row(logits.rows() - 1); }
};

// How the runs read the linear weights. PerProduct: every matrix product packs the
// weights it multiplies into the kernel's layout (tensor/matmul.h), so the weights may
// change between runs (edits). Once: they are packed when the Transformer is made,
// which makes runs of few rows (decoding, causal tracing's reruns) several times
// faster; the weights must then not change while the Transformer exists. Both give
// the same results, bit for bit. Once packs only when the packed copy (4 bytes per
// weight) fits in a quarter of the machine's memory, and otherwise reads as PerProduct.
enum class WeightPacking { PerProduct, Once };

class Transformer {
public:
    // Keeps references: the model must outlive the Transformer. With `overrides`
    // (which must outlive it too) the blocks' linear weights it holds replace the
    // model's: the changed model, without writing the model.
    explicit Transformer(const Model& model, const WeightOverrides* overrides = nullptr,
                         WeightPacking packing = WeightPacking::PerProduct);

    // Full forward pass of `tokens` (validated: non-empty, ids in range, <= nCtx).
    // With toLayer < nLayers only layers [0, toLayer) run (no logits): for callers
    // that only need what early layers compute.
    RunState run(const std::vector<int>& tokens, const Hooks& hooks = {},
                 LogitsMode logits = LogitsMode::Last, int toLayer = -1) const;

    // Recompute layers >= fromLayer at positions >= fromPos, taking
    // state.resid[fromLayer] rows >= fromPos as the input and reusing cached
    // keys/values of positions < fromPos. Patches must lie in the recomputed region.
    // From layer 0 with embedding hooks, the embeddings of those rows are computed
    // afresh and hooked (so noise added there is not added twice).
    void rerun(RunState& state, int fromLayer, int fromPos, const Hooks& hooks = {},
               LogitsMode logits = LogitsMode::Last) const;

    // Append tokens to a state (decoding with the key/value cache).
    void extend(RunState& state, const std::vector<int>& newTokens, const Hooks& hooks = {},
                LogitsMode logits = LogitsMode::Last) const;

    // rerun on several states of equal length at once: their rows are stacked so
    // that the matrix products run on [states x rows] at a time (far more efficient
    // than one short sequence after another). `hooks` is empty, one Hooks shared by
    // all states, or one per state. With toLayer < nLayers only layers
    // [fromLayer, toLayer) run: resid[toLayer] is updated, there are no logits.
    void rerunMany(std::vector<RunState*>& states, int fromLayer, int fromPos,
                   const std::vector<const Hooks*>& hooks = {},
                   LogitsMode logits = LogitsMode::Last, int toLayer = -1) const;

    // Many prompts in one call, spread over the cores.
    std::vector<RunState> runBatch(const std::vector<std::vector<int>>& prompts,
                                   const Hooks& hooks = {},
                                   LogitsMode logits = LogitsMode::Last) const;

    // The final norm and unembedding of residual rows x: [n x dModel] -> [n x vocab]
    // (also the logit lens).
    Matrix unembed(const Eigen::Ref<const Matrix>& x) const;

    // The token embedding (plus position embedding for GPT-2) of tokens at positions
    // firstPos...: [n x dModel] — resid_pre of layer 0.
    Matrix embed(const std::vector<int>& tokens, int firstPos = 0) const;

    const Model& model() const { return m_model; }
    const ModelConfig& config() const { return m_model.config; }

    // Throws InvalidInput unless tokens is non-empty, ids are in range and
    // firstPos + size <= nCtx.
    void validateTokens(const std::vector<int>& tokens, int firstPos = 0) const;

private:
    // The states share nTokens; hooks[i] belongs to states[i] (may be null).
    void runBlocks(const std::vector<RunState*>& states, int fromLayer, int fromPos,
                   const std::vector<const Hooks*>& hooks, LogitsMode logits, int toLayer = -1) const;
    void block(const std::vector<RunState*>& states, int layer, int fromPos, Matrix& x,
               const std::vector<const Hooks*>& hooks) const;
    void attention(const std::vector<RunState*>& states, int layer, int fromPos, const Matrix& h,
                   Matrix& out, const std::vector<const Hooks*>& hooks) const;
    // The MLP of a sparse layer (transformer_moe.cpp): h, the result [nStates * n x dModel].
    Matrix mixture(const std::vector<RunState*>& states, int layer, int fromPos, const Matrix& h,
                   const std::vector<const Hooks*>& hooks) const;
    void ensureCapacity(RunState& state, int nTokens) const;
    // The weight the runs use: the override, else the model's.
    const Linear& linear(int layer, BlockLinear which) const;
    // y = x Wᵀ + b for that weight, from the packed copy when there is one.
    void project(int layer, BlockLinear which, const Matrix& x, Matrix& y) const;
    void packWeights();

    struct PackedWeights;
    const Model& m_model;
    const WeightOverrides* m_overrides;
    std::shared_ptr<const PackedWeights> m_packed;  // null: packed per product
};

// Softmax of a logit row, in double for stable small probabilities.
Vector softmax(const Eigen::Ref<const RowVector>& logits);

}  // namespace mwb
