// A blind audit for hidden edits: does a model file carry a fact written into its
// weights by a locate-then-edit method (ROME, r-ROME, MEMIT, AlphaEdit), judged from
// the weights alone, without the original model and ignoring the file's edit records?
//
// Every one of those methods writes mlp/down with an update shaped by the inverse of
// the key second moment C (ROME eq. 2: ΔW = δ (C⁻¹k*)ᵀ / k*ᵀC⁻¹k*; MEMIT eq. 14;
// AlphaEdit projects onto C's null space): the update is large in directions of key
// space that ordinary text hardly uses and small in the directions it does, so that
// other facts stay in place. A trained matrix is the opposite: gradient descent
// writes W along the keys it sees, and weight decay shrinks what it does not. The
// audit measures that contrast per unit output direction u of mlp/down,
//     μ(u) = uᵀ W (C + εI)⁻¹ Wᵀ u   (the row Wᵀu's squared norm in whitened keys),
// whose stationary values are the eigenvalues of G = W (C + εI)⁻¹ Wᵀ; an edit of rank
// r lifts the top r of them far above the rest. Youssef et al. (ICLR 2026, "Tracing
// and Reversing Edits in LLMs") show the plain spectrum of a ROME-edited matrix is
// dominated by the edit; the whitened one also exposes edits smaller than the
// matrix's own top singular value and MEMIT's rank-n updates. Each layer is compared
// with the model's other layers (robust z-scores), not with a threshold tuned on one
// model. A batch edit's lower layers are found through the output directions they
// share with its strongest layer (docs/audit.md).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "editing/audit/edit_explanation.h"
#include "model/model.h"
#include "tensor/progress.h"
#include "tensor/tensor.h"

namespace mwb {

struct AuditOptions {
    std::string corpusText;   // ordinary text for the key statistics (required)
    std::vector<CarrierPrompt> carriers;  // fact prompts to decode the targets with
    long statsTokens = 8192;  // tokens of it to run (the statistics are d_model × d_model)
    // A finding is flagged when its score (a robust z-score against the other layers)
    // reaches this; docs/audit.md reports how it separates edited and clean files.
    double flagThreshold = 3.5;
    int topTargets = 20;   // suspected target tokens to report
    int topSubjects = 10;  // suspected subject tokens to report
    bool explain = true;   // decode the top finding (targets, subjects)
};

// The statistics of one tensor; `score` combines them (edit_audit.cpp).
struct AuditFinding {
    int layer = -1;
    std::string tensor;         // "mlp/down"
    double score = 0.0;         // robust z against the other layers; higher = more edit-like
    bool flagged = false;
    int estimatedRank = 0;      // eigenvalues of G standing out (the edit's rank)
    double topRatio = 0.0;      // log(μ1 / median μ)
    double gapRatio = 0.0;      // log(μ1 / μ2)
    double spectralGap = 0.0;   // log(σ1 / σ2) of the plain spectrum
    std::vector<double> topEigenvalues;  // μ1.., largest first (at most 8)
    // Flagged because its G weighs the output directions of this flagged layer's edit
    // as no other layer does (a MEMIT batch's lower layers); -1 when flagged on its own.
    int sharedWith = -1;
    // Flagged findings: the estimated edit ΔŴ = editLeft · editRightᵀ ([dModel x r],
    // [dFf x r]), W's whole component along the r output directions that stand out
    // (Youssef et al. remove the top singular component; see reverseEdits).
    Matrix editLeft, editRight;
    double editNorm = 0.0;  // ||ΔŴ||_F / ||W||_F
    // The top eigenvector u of G [dModel] and its key direction
    // v = (C + εI)⁻¹ Wᵀ u [dFf] with v's spread sqrt(vᵀCv) over the corpus.
    VectorD outputDirection, keyDirection;
    double keySpread = 0.0;
};

struct AuditResult {
    double score = 0.0;    // file level: the top finding's score
    bool edited = false;   // some finding is flagged
    std::string verdict;   // one sentence
    std::vector<AuditFinding> findings;  // sorted by score, highest first
    std::vector<SuspectedToken> suspectedTargets;    // for the top finding
    std::vector<SuspectedSubject> suspectedSubjects;
    long statsTokens = 0;
    // The file's own edit records (not used for the judgement): how many, and for
    // each flagged layer whether a record covers it.
    int recordedEdits = 0;
    std::vector<int> recordedLayers;
};

// The findings for mlp/down weights [dModel x dFf] of consecutive layers given each
// layer's key second moment C [dFf x dFf], sorted by score (highest first).
std::vector<AuditFinding> judgeLayers(const std::vector<Matrix>& down, const std::vector<MatrixD>& moments,
                                      double flagThreshold, const ProgressFn& progress = {});

// Throws InvalidInput when the corpus is empty or tokenises to nothing, Cancelled
// when progress returns false.
AuditResult auditModel(const Model& model, const AuditOptions& options, const ProgressFn& progress = {});

nlohmann::json toJson(const AuditResult& r);

// Removes the estimated edit of every flagged finding from `model` and records the
// removal as an edit (method "audit-reversal", with the weights it replaced, so that
// `mwb undo` restores them). Returns the number of layers changed.
int reverseEdits(Model& model, const AuditResult& audit);

}  // namespace mwb
