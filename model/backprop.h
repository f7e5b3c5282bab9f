// Differentiable forward pass and backward pass of the transformer (both
// architectures), for training and for gradient-based editing (ROME's value
// optimisation, Meng et al. 2022 §3.1). Runs a batch of equal-length sequences: the
// linear layers are single GEMMs over [batch*seqLen x d], attention runs per
// (sequence, head) in parallel. Results are deterministic for a fixed thread count.
#pragma once

#include <map>
#include <span>
#include <utility>
#include <vector>

#include "model/backprop_kernels.h"
#include "model/config.h"
#include "model/hooks.h"
#include "model/weights.h"
#include "tensor/tensor.h"

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
    //
    // Hooks are those of the inference pass (hooks.h) with two differences: a patch's
    // `pos` is a row of the batch (b*seqLen + pos), and there is no attn_pattern site
    // and no callback (InvalidInput). Patches and captures work at every other site;
    // an Add patch at attn_out or mlp_out is added to the residual stream together
    // with the module's output (the same sum, without materialising the output).
    const MatrixT<T>& forward(std::span<const int> tokens, int batch, int seqLen, const Hooks& hooks = {});

    // The tokens of the last forward() again, with `hooks`, recomputing only from the
    // lowest hooked layer up: the layers below keep what the earlier passes recorded.
    // Gradient-based editing calls it once per optimisation step (ROME's delta added
    // to mlp_out of one layer, Meng et al. 2022 §3.1). The recorded layers below must
    // not have been changed by an earlier pass: after forward() without hooks, rerun
    // may be called repeatedly with hooks starting at the same layer or a lower one;
    // otherwise it throws InvalidInput (run forward() again).
    const MatrixT<T>& rerun(const Hooks& hooks);

    // Backward pass of the last forward pass from dLogits = d loss / d logits
    // [logit rows x vocab]. ADDS the weight gradients into `grads`, which must have the
    // shapes of the weights (e.g. a zeroed copy). Needs a full forward() pass.
    void backward(const MatrixT<T>& dLogits, WeightsT<T>& grads);

    // d loss / d (the activation each patch of the last pass wrote), one row per patch
    // in the order of its hooks' patches ([patches x width]; all patches must have the
    // site width, dModel or dFf for mlp_in). The backward pass runs only down to the
    // lowest patched site; when grads is not null, the weight gradients of the layers
    // it runs through (and of the head) are added into it.
    MatrixT<T> backwardToPatches(const MatrixT<T>& dLogits, WeightsT<T>* grads = nullptr);

    // The captures of the last pass, full [batch*seqLen x width] each.
    const std::map<std::pair<HookSite, int>, MatrixT<T>>& captured() const { return m_captured; }

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

    // The load-balancing loss of Switch Transformers (Fedus et al. 2022, §2.2) in the
    // passes that follow: for each sparse layer alpha * E * Σ_i f_i P_i, with f_i the
    // share of the pass's (row, choice) pairs routed to expert i and P_i its mean router
    // probability, averaged over the sparse layers. Balanced routing gives alpha. f is
    // piecewise constant, so the gradient reaches the router through P only; backward()
    // and backwardToPatches() include it. 0 (the default): none.
    void setRouterBalance(double alpha) { m_routerBalance = alpha; }
    // That loss of the last pass (0 without sparse layers or with alpha 0).
    double routerBalanceLoss() const;

    const MatrixT<T>& logits() const { return m_logits; }
    // The residual stream entering `layer` (resid_pre, [rows x dModel]); layer ==
    // nLayers gives the input of the final norm. As of the last pass.
    const MatrixT<T>& residual(int layer) const { return m_resid.at(layer); }
    int batch() const { return m_batch; }
    int seqLen() const { return m_seqLen; }

private:
    // What the backward pass of one block needs. Norms keep their normalised input
    // (xhat) and 1/rms (rstd): 1 before attention, 2 before the MLP, Q/K of q and k,
    // PA/PM after attention and MLP. h2 is the MLP's input.
    // One expert of a sparse layer on the rows it serves: `slots` are row * k + j of
    // the (row, choice) pairs, h its input rows, u, g, m its activations, y its output.
    struct ExpertCache {
        std::vector<int> slots;
        MatrixT<T> h, u, g, m, y;
    };
    struct LayerCache {
        MatrixT<T> xhat1, h1, q, k, v, probs, att, xhat2, h2, u, g, m;
        MatrixT<T> xhatQ, xhatK, xhatPA, xhatPM;
        VectorT<T> rstd1, rstd2, rstdQ, rstdK, rstdPA, rstdPM;
        // Sparse layers: router probabilities [rows x nExperts], the chosen experts and
        // their weights [rows x k], the experts, the shared expert and its gate's logit.
        MatrixT<T> routerProbs, moeWeights, moeOut;
        Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> moeExperts;
        std::vector<ExpertCache> experts;
        ExpertCache shared;
        VectorT<T> sharedGate;
    };

    // Runs block `layer` on m_resid[layer] into `out` (resid_post), filling cache(layer)
    // and applying the pass's hooks of that layer.
    void forwardLayer(int layer, MatrixT<T>& out);
    // Checks the hooks against the batch and keeps them for the pass (and for the
    // recomputation of layers in the backward pass).
    void setHooks(const Hooks& hooks);
    bool hooked(int layer) const;
    // The lowest layer with a hook of the pass (embed counts as layer 0); nLayers: none.
    int lowestHookedLayer() const;
    // A patch or capture at (site, layer) needs the site's own activation matrix.
    bool needsActivation(HookSite site, int layer) const;
    // Applies the patches at (site, layer) to m (all, or only the Add ones) and captures it.
    void applyHooks(HookSite site, int layer, MatrixT<T>& m, bool addsOnly = false);
    // Gradient bookkeeping at (site, layer): records d loss / d activation for the
    // patches there and zeroes the rows of `grad` that a Replace patch cut off.
    void patchGradients(HookSite site, int layer, MatrixT<T>& grad);
    // `grad` with the rows of Replace patches at (site, layer) zeroed (a copy in `scratch`
    // when there are such rows, else grad itself).
    const MatrixT<T>& withoutReplaced(HookSite site, int layer, const MatrixT<T>& grad, MatrixT<T>& scratch);
    LayerCache& cache(int layer) { return m_layers[m_memory == ActivationMemory::Recompute ? 0 : layer]; }
    void forwardHead();
    // RMSNorm of q or k ([rows x heads*dHead]) in place, per head or whole (qkNorm).
    void qkNormForward(MatrixT<T>& m, int heads, const NormT<T>& norm, MatrixT<T>& xhat, VectorT<T>& rstd);
    // d (normed) -> d (input) in place.
    void qkNormBackward(MatrixT<T>& d, int heads, const NormT<T>& norm, const MatrixT<T>& xhat,
                        const VectorT<T>& rstd, NormT<T>* grad);
    // A sparse layer's MLP (backprop_moe.cpp): a.moeOut from a.h2, and from dOut = d loss
    // / d (its output) m_dh2 = d loss / d a.h2, adding the weight gradients into g.
    void moeForward(int layer, LayerCache& a);
    void moeBackward(int layer, const LayerCache& a, const MatrixT<T>& dOut, BlockWeightsT<T>* g);
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
    double m_routerBalance = 0;
    std::vector<double> m_balanceLoss;  // per layer, of the last pass (0 for dense layers)
    MatrixT<T> m_headIn;           // the residual at m_logitRows
    MatrixT<T> m_xhatF, m_hF, m_logits;
    VectorT<T> m_rstdF;
    bp::RopeTable<T> m_rope;

    // The hooks of the last pass (no callback). m_resid[i] for i >= m_firstHookedResid
    // comes from a hooked pass; layers below are shared by every pass since forward().
    Hooks m_hooks;
    bool m_recomputing = false;  // recomputing a layer in the backward pass
    std::map<std::pair<HookSite, int>, MatrixT<T>> m_captured;
    MatrixT<T> m_patchGrads;  // one row per patch, filled by backwardToPatches
    bool m_recordPatchGrads = false;
    int m_firstHookedResid = 0;
    int m_baseLayer = -1;
    MatrixT<T> m_base;  // resid_post of m_baseLayer before any hook

    // Backward scratch.
    MatrixT<T> m_dLogits, m_dxHead, m_dx, m_dh, m_dq, m_dk, m_dv, m_datt, m_dm, m_du, m_dg, m_dxCut;
    MatrixT<T> m_dSub, m_dOut, m_dh2, m_dNormed;
    // One weight kept in float16, decoded for the product that needs it.
    MatrixT<T> m_scratch;
};

using Backprop = BackpropT<float>;
using BackpropD = BackpropT<double>;

}  // namespace mwb
