// Differentiable forward pass and backward pass of the transformer (both
// architectures), for training and for gradient-based editing (ROME's value
// optimisation, Meng et al. 2022 §3.1). Runs a batch of equal-length sequences: the
// linear layers are single GEMMs over [batch*seqLen x d], attention runs per
// (sequence, head) in parallel. Results are deterministic for a fixed thread count.
#pragma once

#include <span>
#include <vector>

#include "model/backprop_kernels.h"
#include "model/config.h"
#include "tensor/tensor.h"
#include "model/weights.h"

namespace mwb {

// Mean cross-entropy over the rows whose target is >= 0 (-1 = ignore the row).
// logits: [n x vocab], targets: n entries. Writes d(mean loss)/d logits into dLogits
// (resized to [n x vocab]; zero rows for ignored rows; may be the same object as
// logits). Returns the mean loss, 0 when no row has a target.
// Throws InvalidInput when targets.size() != n or a target is >= vocab.
template <typename T>
double crossEntropy(const MatrixT<T>& logits, std::span<const int> targets, MatrixT<T>& dLogits);

// What a forward pass keeps for the backward pass.
enum class ActivationMemory {
    KeepAll,    // every layer's intermediate activations (fastest)
    // Only the residual stream entering each layer; a layer's intermediates are
    // recomputed from it when the backward pass reaches it (activation checkpointing,
    // Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost"). Costs one more
    // forward pass of the layers run backward; the gradients are bit for bit the same.
    Recompute,
};

// Bytes of intermediate activations one layer keeps for a batch of `batch` sequences
// of `seqLen` tokens in float (what ActivationMemory::Recompute saves per layer).
double layerActivationBytes(const ModelConfig& config, int batch, int seqLen);

// Records the activations of a forward pass and computes gradients from them.
// Rows are tokens: row b*seqLen + pos is position pos of sequence b. Sequences of
// different lengths can share a batch by padding at the end (the causal mask keeps
// padding from affecting earlier positions) and ignoring the padded rows' targets.
// Not thread-safe (one object per thread); keeps its buffers between calls, so
// repeated passes of the same shape do not allocate.
template <typename T>
class BackpropT {
public:
    // Keeps references: `config` and `weights` must outlive this object, and weights
    // may change between passes (training) but not during one.
    BackpropT(const ModelConfig& config, const WeightsT<T>& weights,
              ActivationMemory memory = ActivationMemory::KeepAll);

    // Forward pass of `batch` sequences of `seqLen` tokens (tokens: [batch*seqLen],
    // row-major). Returns the logits [batch*seqLen x vocab], valid until the next pass.
    // Throws InvalidInput on a token id out of range, seqLen > nCtx, or a size mismatch.
    const MatrixT<T>& forward(std::span<const int> tokens, int batch, int seqLen);

    // Forward pass in which delta.row(i) is added to the MLP output of `layer` at row
    // rows[i], reusing the activations of layers <= layer recorded by forward() (only
    // layers > layer are recomputed). Call forward() first with the clean tokens; it can
    // then be called repeatedly (one optimisation step each) with the same layer, or with
    // a lower one. delta: [rows.size() x dModel]. Throws InvalidInput otherwise.
    const MatrixT<T>& forwardWithMlpDelta(int layer, std::span<const int> rows,
                                          const Eigen::Ref<const MatrixT<T>>& delta);

    // Backward pass of the last forward pass from dLogits = d loss / d logits
    // [logit rows x vocab]. ADDS the weight gradients into `grads`, which must have the
    // shapes of the weights (e.g. a zeroed copy). Needs a full forward() pass.
    void backward(const MatrixT<T>& dLogits, WeightsT<T>& grads);

    // d loss / d delta for a delta added to the MLP output of `layer` at `rows`
    // ([rows.size() x dModel]); only layers > layer are run backward. When grads is not
    // null, also adds the gradients of the weights of layers > layer and of the head.
    MatrixT<T> backwardToMlpOut(const MatrixT<T>& dLogits, int layer, std::span<const int> rows,
                                WeightsT<T>* grads = nullptr);

    // crossEntropy(logits(), targets) followed by backward(); returns the mean loss.
    double lossAndBackward(std::span<const int> targets, WeightsT<T>& grads);

    // The rows (b*seqLen + pos) at which the passes that follow compute logits, in this
    // order: logits() and dLogits then have one row per entry. Empty (the default):
    // every row. ROME's loss reads one row per prompt, and the head, a vocabulary-wide
    // product, was most of each optimisation step over the whole batch. Checked
    // against the batch at each pass (InvalidInput).
    void setLogitRows(std::vector<int> rows) { m_logitRows = std::move(rows); }

    // Attention masked beyond causality in the passes that follow, in every layer and
    // head (bp::BlockedKeys; positions within each sequence). Training routes a
    // subject's identity through its last token this way (subject_routing.h). Empty
    // (the default): plain causal attention. Checked against the batch at each pass.
    void setBlockedKeys(std::vector<bp::BlockedKeys> blocked) { m_blocked = std::move(blocked); }

    const MatrixT<T>& logits() const { return m_logits; }
    // The residual stream entering `layer` (resid_pre, [rows x dModel]); layer ==
    // nLayers gives the input of the final norm. As of the last pass.
    const MatrixT<T>& residual(int layer) const { return m_resid.at(layer); }
    int batch() const { return m_batch; }
    int seqLen() const { return m_seqLen; }

private:
    struct LayerCache {
        MatrixT<T> xhat1, h1, q, k, v, probs, att, xhat2, h2, u, g, m;
        VectorT<T> rstd1, rstd2;
    };

    // Runs block `layer` on m_resid[layer] into `out` (resid_post), filling cache(layer).
    void forwardLayer(int layer, MatrixT<T>& out);
    LayerCache& cache(int layer) { return m_layers[m_memory == ActivationMemory::Recompute ? 0 : layer]; }
    void forwardHead();
    // From m_dx = d loss / d resid_post of `layer`, leaves d loss / d resid_pre in m_dx.
    void backwardLayer(int layer, BlockWeightsT<T>* grads);
    // Head and final norm, then layers down to firstLayer; m_dx ends as d loss / d
    // resid_pre of firstLayer.
    void backwardFrom(const MatrixT<T>& dLogits, int firstLayer, WeightsT<T>* grads);
    bp::AttentionShape attentionShape(int layer) const;

    const ModelConfig& m_config;
    const WeightsT<T>& m_weights;
    int m_batch = 0;
    int m_seqLen = 0;
    std::vector<int> m_tokens;
    std::vector<MatrixT<T>> m_resid;  // [nLayers + 1] residual stream entering each layer
    ActivationMemory m_memory;
    std::vector<LayerCache> m_layers;  // one per layer, or a single one when recomputing
    MatrixT<T> m_recomputed;           // resid_post written while recomputing (discarded)
    std::vector<int> m_logitRows;  // empty: all rows
    std::vector<bp::BlockedKeys> m_blocked;
    MatrixT<T> m_headIn;           // the residual at m_logitRows
    MatrixT<T> m_xhatF, m_hF, m_logits;
    VectorT<T> m_rstdF;
    bp::RopeTable<T> m_rope;

    // m_resid[i] for i >= m_firstDeltaResid comes from a delta pass (differs from the
    // clean forward); layers below are shared by the clean and the delta passes.
    int m_firstDeltaResid = 0;
    int m_deltaLayer = -1;
    MatrixT<T> m_deltaBase;  // clean resid_post of m_deltaLayer

    // Backward scratch.
    MatrixT<T> m_dLogits, m_dxHead, m_dx, m_dh, m_dq, m_dk, m_dv, m_datt, m_dm, m_du, m_dg;
    // One weight kept in float16, decoded for the product that needs it.
    MatrixT<T> m_scratch;
};

using Backprop = BackpropT<float>;
using BackpropD = BackpropT<double>;

}  // namespace mwb
