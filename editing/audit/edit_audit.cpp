#include "editing/audit/edit_audit.h"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <set>

#include "data/datasets.h"
#include "editing/edit_history.h"
#include "editing/second_moments.h"
#include "tensor/cholesky.h"
#include "tensor/errors.h"
#include "tensor/matmul.h"
#include "tensor/median.h"

namespace mwb {

namespace {

// The ridge added to C before inverting it, relative to C's mean eigenvalue: key
// directions used less than a tenth as much as the average one count as unused.
// Without it the directions dead neurons leave (eigenvalue 0) would dominate.
constexpr double kRidge = 0.1;
// The smallest spread assumed for a feature across layers (log units): a model whose
// layers agree to the third digit must not turn rounding into a finding.
constexpr double kMinSpread = 0.1;

// The whitened spectrum of one mlp/down: G = W (C + εI)⁻¹ Wᵀ, whose eigenvalues are
// the μ(u) of the header at their stationary points.
struct LayerSpectrum {
    MatrixD g;                    // W (C + εI)⁻¹ Wᵀ
    Eigen::VectorXd eigenvalues;  // ascending, as the solver returns them
    MatrixD eigenvectors;         // columns, matching
    Matrix whitening;             // L, C + εI = L Lᵀ

    // (C + εI)⁻¹ v.
    VectorD solve(const VectorD& v) const {
        Vector x = v.cast<float>();
        whitening.triangularView<Eigen::Lower>().solveInPlace(x);
        whitening.transpose().triangularView<Eigen::Upper>().solveInPlace(x);
        return x.cast<double>();
    }
};

// In float, in the run-time-chosen matrix kernel (tensor/cholesky.h): with the ridge
// of a tenth of C's mean eigenvalue, C + εI is conditioned well enough (at most
// 1 + 10 λmax / mean) for float's precision, and the double factorisation in the
// portable build's SSE2 was a sixth of the audit's time on a gpt2-small shape.
LayerSpectrum layerSpectrum(const Matrix& w, const MatrixD& moment) {
    LayerSpectrum s;
    const Eigen::Index f = moment.rows(), d = w.rows();
    MatrixD c = moment;
    c.diagonal().array() += kRidge * std::max(moment.trace() / double(f), 1e-30);
    if (!choleskyFactor(c.cast<float>(), s.whitening))
        throw Error("the key statistics are not positive definite (non-finite keys?)");
    const Matrix y = whitenRows(w, s.whitening);  // W L⁻ᵀ
    Matrix g(d, d);
    matmulTransposed(y.data(), f, y.data(), f, g.data(), d, int(d), int(d), int(f));  // W (LLᵀ)⁻¹ Wᵀ
    s.g = g.cast<double>();
    Eigen::SelfAdjointEigenSolver<MatrixD> eig(s.g);
    s.eigenvalues = eig.eigenvalues().cwiseMax(1e-300);
    s.eigenvectors = eig.eigenvectors();
    return s;
}

// (value − median of the others) / their spread: how far one layer stands out
// from the rest of the model (the layers marked in `reference`, all when empty).
double robustZ(const std::vector<double>& values, size_t i, const std::vector<char>& reference = {}) {
    std::vector<double> others;
    for (size_t j = 0; j < values.size(); ++j)
        if (j != i && (reference.empty() || reference[j])) others.push_back(values[j]);
    if (others.empty()) return 0.0;
    const double m = median(others);
    std::vector<double> dev;
    for (double v : others) dev.push_back(std::abs(v - m));
    return (values[i] - m) / std::max(1.4826 * median(dev), kMinSpread);
}

}  // namespace

std::vector<AuditFinding> judgeLayers(const std::vector<Matrix>& down, const std::vector<MatrixD>& moments,
                                      double flagThreshold, const ProgressFn& progress) {
    if (down.size() != moments.size()) throw InvalidInput("judgeLayers needs one key statistic per weight");
    const size_t n = down.size();
    std::vector<LayerSpectrum> spectra;
    std::vector<double> gap, top, plainGap;
    for (size_t l = 0; l < n; ++l) {
        report(progress, {long(l), long(n), "spectra"});
        const Matrix& w = down[l];
        if (moments[l].rows() != w.cols() || moments[l].cols() != w.cols())
            throw InvalidInput("the key statistics of layer " + std::to_string(l) + " do not match its mlp/down");
        spectra.push_back(layerSpectrum(w, moments[l]));
        const Eigen::VectorXd& g = spectra.back().eigenvalues;
        const Eigen::Index d = g.size();
        gap.push_back(d > 1 ? 0.5 * std::log(g[d - 1] / g[d - 2]) : 0.0);
        top.push_back(0.5 * std::log(g[d - 1] / median(std::vector<double>(g.data(), g.data() + d))));
        Eigen::SelfAdjointEigenSolver<MatrixD> plain(w.cast<double>() * w.cast<double>().transpose(),
                                                     Eigen::EigenvaluesOnly);
        const Eigen::VectorXd& p = plain.eigenvalues();
        plainGap.push_back(p.size() > 1 && p[p.size() - 2] > 0 ? 0.5 * std::log(p[p.size() - 1] / p[p.size() - 2])
                                                                 : 0.0);
    }

    // Layers are compared with the layers not flagged so far, until no more stand out:
    // several layers edited one by one (sequential ROME) must not hide each other by
    // widening the spread they are measured against.
    std::vector<char> reference(n, 1);
    std::vector<double> score(n, 0.0);
    for (bool more = true; more;) {
        more = false;
        for (size_t l = 0; l < n; ++l)
            if (reference[l]) score[l] = std::max(robustZ(gap, l, reference), robustZ(top, l, reference));
        for (size_t l = 0; l < n; ++l)
            if (reference[l] && score[l] >= flagThreshold && n > 2) {
                reference[l] = 0;
                more = true;
            }
    }

    std::vector<AuditFinding> findings;
    for (size_t l = 0; l < n; ++l) {
        AuditFinding f;
        f.layer = int(l);
        f.tensor = "mlp/down";
        f.gapRatio = gap[l];
        f.topRatio = top[l];
        f.spectralGap = plainGap[l];
        f.score = score[l];
        f.flagged = !reference[l];
        const LayerSpectrum& s = spectra[l];
        const Eigen::Index d = s.eigenvalues.size();
        // The edit's rank: eigenvalues above the bulk by as much as the top one of a
        // typical layer plus the flag threshold's worth of spread.
        std::vector<double> others;
        for (size_t j = 0; j < n; ++j)
            if (j != l && reference[j]) others.push_back(top[j]);
        const double typical = others.empty() ? top[l] : median(others);
        std::vector<double> dev;
        for (double v : others) dev.push_back(std::abs(v - typical));
        const double spread = std::max(1.4826 * median(dev), kMinSpread);
        const double med = median(std::vector<double>(s.eigenvalues.data(), s.eigenvalues.data() + d));
        for (Eigen::Index i = d - 1; i >= 0; --i) {
            if (0.5 * std::log(s.eigenvalues[i] / med) < typical + flagThreshold * spread) break;
            ++f.estimatedRank;
        }
        for (Eigen::Index i = d - 1; i >= 0 && i >= d - 8; --i) f.topEigenvalues.push_back(s.eigenvalues[i]);
        f.outputDirection = s.eigenvectors.col(d - 1);
        // The input direction v = (C + εI)⁻¹ Wᵀ u: the key the edit answers.
        f.keyDirection = s.solve(down[l].transpose().cast<double>() * f.outputDirection);
        f.keySpread = std::sqrt(std::max(f.keyDirection.dot(moments[l] * f.keyDirection), 1e-300));
        if (f.flagged) {
            f.estimatedRank = std::max(f.estimatedRank, 1);
            const MatrixD u = s.eigenvectors.rightCols(f.estimatedRank);
            const MatrixD x = down[l].transpose().cast<double>() * u;
            f.editLeft = u.cast<float>();
            f.editRight = x.cast<float>();
            f.editNorm = x.norm() / std::max(double(down[l].norm()), 1e-300);
        }
        findings.push_back(std::move(f));
    }
    // MEMIT and AlphaEdit spread one change over several layers: every layer's update
    // writes the same residual-stream targets, so the lower layers' smaller updates
    // share the flagged layer's output directions U. A layer whose G gives those
    // directions far more weight than the other unflagged layers' G does belongs to
    // the same edit: ½ log(λmax(UᵀGU) / median eigenvalue of G), z-scored among the
    // unflagged layers.
    for (size_t fi = 0; fi < n; ++fi) {
        const AuditFinding& source = findings[fi];
        if (!source.flagged || source.sharedWith >= 0) continue;
        const MatrixD u = spectra[fi].eigenvectors.rightCols(source.estimatedRank);
        std::vector<size_t> candidates;
        std::vector<double> shared;
        for (size_t l = 0; l < n; ++l) {
            if (findings[l].flagged) continue;
            const LayerSpectrum& s = spectra[l];
            const double med = median(std::vector<double>(s.eigenvalues.data(), s.eigenvalues.data() + s.eigenvalues.size()));
            Eigen::SelfAdjointEigenSolver<MatrixD> proj(u.transpose() * s.g * u, Eigen::EigenvaluesOnly);
            candidates.push_back(l);
            shared.push_back(0.5 * std::log(std::max(proj.eigenvalues().maxCoeff(), 1e-300) / med));
        }
        for (size_t i = 0; i < candidates.size(); ++i) {
            const double z = robustZ(shared, i);
            if (z < flagThreshold) continue;
            AuditFinding& f = findings[candidates[i]];
            f.flagged = true;
            f.sharedWith = source.layer;
            f.score = std::max(f.score, z);
            f.estimatedRank = source.estimatedRank;
            const MatrixD x = down[candidates[i]].transpose().cast<double>() * u;
            f.editLeft = u.cast<float>();
            f.editRight = x.cast<float>();
            f.editNorm = x.norm() / std::max(double(down[candidates[i]].norm()), 1e-300);
        }
    }
    std::stable_sort(findings.begin(), findings.end(),
                     [](const AuditFinding& a, const AuditFinding& b) { return a.score > b.score; });
    return findings;
}

AuditResult auditModel(const Model& model, const AuditOptions& o, const ProgressFn& progress) {
    const ModelConfig& c = model.config;
    requireDenseModel(c, "the audit");
    if (o.statsTokens < 1) throw InvalidInput("the number of tokens for the audit's statistics must be positive");
    if (splitDocuments(o.corpusText).empty()) throw InvalidInput("the corpus for the audit's statistics is empty");
    AuditResult r;
    r.recordedEdits = int(model.edits.size());
    {
        std::set<int> recorded;
        for (const EditRecord& e : model.edits) recorded.insert(e.layers.begin(), e.layers.end());
        r.recordedLayers.assign(recorded.begin(), recorded.end());
    }

    std::vector<int> layers(c.nLayers);
    for (int l = 0; l < c.nLayers; ++l) layers[l] = l;
    SecondMomentOptions so;
    so.maxTokens = o.statsTokens;
    so.useCache = false;  // an audit leaves nothing beside the file it judges
    so.floatProducts = true;
    auto moments = secondMoments(model, layers, o.corpusText, so, progress);
    r.statsTokens = moments.empty() ? 0 : moments.begin()->second.tokens;
    std::vector<Matrix> down;
    std::vector<MatrixD> keyMoments;
    for (int l = 0; l < c.nLayers; ++l) {
        down.push_back(model.weights.blocks[l].down.weight);
        keyMoments.push_back(std::move(moments.at(l).moment));
    }
    r.findings = judgeLayers(down, keyMoments, o.flagThreshold, progress);
    r.score = r.findings.empty() ? 0.0 : r.findings.front().score;
    r.edited = !r.findings.empty() && r.findings.front().flagged;

    if (o.explain && !r.findings.empty()) {
        const AuditFinding& f = r.findings.front();
        r.suspectedSubjects = suspectedSubjects(model, f.layer, f.keyDirection, f.keySpread, o.corpusText,
                                                o.statsTokens, o.topSubjects, progress);
        // The key that fires the estimated edit most is the nearest the corpus has to
        // the subject's: the sign of its projection is the sign the edit writes u with.
        const int sign = r.suspectedSubjects.empty() ? 0 : (r.suspectedSubjects.front().score > 0 ? 1 : -1);
        r.suspectedTargets = suspectedTargets(model, f.layer, f.outputDirection, sign, o.carriers, o.topTargets);
    }

    if (r.edited) {
        std::string where;
        int n = 0;
        for (const AuditFinding& f : r.findings)
            if (f.flagged) where += (n++ ? ", " : "") + std::to_string(f.layer);
        r.verdict = "Probably edited: mlp/down of layer" + std::string(n > 1 ? "s " : " ") + where +
                    (n > 1 ? " stand" : " stands") + " out from the model's other layers the way a rank-" +
                    "one or low-rank edit makes it.";
    } else {
        r.verdict = "No sign of an edit: no layer's mlp/down stands out from the others.";
    }
    return r;
}

nlohmann::json toJson(const AuditResult& r) {
    nlohmann::json findings = nlohmann::json::array();
    for (const AuditFinding& f : r.findings)
        findings.push_back({{"layer", f.layer}, {"tensor", f.tensor}, {"score", f.score}, {"flagged", f.flagged},
                            {"estimated_rank", f.estimatedRank}, {"top_ratio", f.topRatio},
                            {"gap_ratio", f.gapRatio}, {"spectral_gap", f.spectralGap},
                            {"top_eigenvalues", f.topEigenvalues}, {"edit_norm", f.editNorm},
                            {"shared_with", f.sharedWith < 0 ? nlohmann::json() : nlohmann::json(f.sharedWith)}});
    nlohmann::json targets = nlohmann::json::array();
    for (const SuspectedToken& t : r.suspectedTargets)
        targets.push_back({{"id", t.id}, {"token", t.token}, {"score", t.score}});
    nlohmann::json subjects = nlohmann::json::array();
    for (const SuspectedSubject& s : r.suspectedSubjects)
        subjects.push_back({{"token", s.token}, {"context", s.context}, {"score", s.score}});
    return {{"score", r.score},
            {"edited", r.edited},
            {"verdict", r.verdict},
            {"findings", findings},
            {"suspected_targets", targets},
            {"suspected_subjects", subjects},
            {"stats_tokens", r.statsTokens},
            {"edit_records", {{"count", r.recordedEdits}, {"layers", r.recordedLayers}}}};
}

int reverseEdits(Model& model, const AuditResult& audit) {
    int changed = 0;
    for (const AuditFinding& f : audit.findings) {
        if (!f.flagged || f.editLeft.size() == 0) continue;
        EditRecord record;
        record.method = "audit-reversal";
        record.layers = {f.layer};
        record.left = {-f.editLeft};
        record.right = {f.editRight};
        applyEdit(model, std::move(record));
        ++changed;
    }
    return changed;
}

}  // namespace mwb
