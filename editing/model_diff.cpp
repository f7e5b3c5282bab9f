#include "editing/model_diff.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "editing/spectrum.h"
#include "tensor/errors.h"
#include "tensor/float16.h"

namespace mwb {

namespace {

struct TensorView {
    const float* data = nullptr;
    long rows = 0, cols = 0;
};

using MapF = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

std::string modelName(const Model& m, const char* fallback) {
    return m.path.empty() ? std::string(fallback) : m.path.filename().string();
}

std::string shapeText(long rows, long cols) {
    return cols == 1 ? "[" + std::to_string(rows) + "]"
                     : "[" + std::to_string(rows) + ", " + std::to_string(cols) + "]";
}

bool sameRecord(const EditRecord& x, const EditRecord& y) {
    if (x.method != y.method || x.layers != y.layers || x.experts != y.experts || x.subject != y.subject || x.prompt != y.prompt ||
        x.targetNew != y.targetNew || x.targetTrue != y.targetTrue || x.created != y.created ||
        x.left.size() != y.left.size() || x.right.size() != y.right.size())
        return false;
    auto same = [](const Matrix& p, const Matrix& q) {
        return p.rows() == q.rows() && p.cols() == q.cols() && (p.array() == q.array()).all();
    };
    for (size_t i = 0; i < x.left.size(); ++i)
        if (!same(x.left[i], y.left[i]) || !same(x.right[i], y.right[i])) return false;
    return true;
}

void checkRecord(const EditRecord& e, const ModelConfig& c, const std::string& model, size_t index) {
    const std::string where = model + "'s /edits/" + std::to_string(index);
    if (e.left.size() != e.layers.size() || e.right.size() != e.layers.size())
        throw InvalidInput(where + " does not have one factor pair per layer");
    for (size_t j = 0; j < e.layers.size(); ++j) {
        if (const std::string problem = editTargetProblem(c, e.layers[j], e.expertAt(j)); !problem.empty())
            throw InvalidInput(where + " does not fit the model: " + problem);
        const int width = editedKeyWidth(c, e.expertAt(j));
        if (e.left[j].rows() != c.dModel || e.right[j].rows() != width || e.left[j].cols() != e.right[j].cols())
            throw InvalidInput(where + " has factors of shape " + shapeText(e.left[j].rows(), e.left[j].cols()) +
                               " and " + shapeText(e.right[j].rows(), e.right[j].cols()) + ", expected [" +
                               std::to_string(c.dModel) + ", r] and [" + std::to_string(width) + ", r]");
    }
}

// The records only one model has. Both start with the same history; after the common
// prefix, records present in both (same content) cancel out.
void splitRecords(const Model& a, const Model& b, ModelDiff& out) {
    size_t common = 0;
    while (common < a.edits.size() && common < b.edits.size() && sameRecord(a.edits[common], b.edits[common]))
        ++common;
    std::vector<int> onlyA, onlyB;
    for (size_t i = common; i < a.edits.size(); ++i) onlyA.push_back(int(i));
    for (size_t j = common; j < b.edits.size(); ++j) {
        auto match = std::find_if(onlyA.begin(), onlyA.end(),
                                  [&](int i) { return sameRecord(a.edits[i], b.edits[j]); });
        if (match != onlyA.end())
            onlyA.erase(match);
        else
            onlyB.push_back(int(j));
    }
    out.newEdits = onlyB;
    out.removedEdits = onlyA;
}

struct EditedDown {
    int layer = -1, expert = -1;
};

// The change the records predict for one layer's mlp/down (or one expert's down), E = left · rightᵀ, kept as
// factors (new records' columns, then removed records' columns with a minus sign) so
// that no [dModel x dFf] matrix is built for it.
struct RecordedChange {
    Eigen::MatrixXd left;   // [dModel x r]
    Eigen::MatrixXd right;  // [dFf x r]
    std::vector<int> newTouching, removedTouching;

    long records() const { return long(newTouching.size() + removedTouching.size()); }
    // ||E||_F² = trace(leftᵀleft · rightᵀright).
    double normSquared() const {
        return ((left.transpose() * left).cwiseProduct(right.transpose() * right)).sum();
    }
    // ||d − E||_F, in blocks of rows.
    double residualNorm(const MatrixD& d) const {
        double sq = 0.0;
        for (Eigen::Index r = 0; r < d.rows(); r += 64) {
            const Eigen::Index n = std::min<Eigen::Index>(64, d.rows() - r);
            const Eigen::MatrixXd block = d.middleRows(r, n) - left.middleRows(r, n) * right.transpose();
            sq += block.squaredNorm();
        }
        return std::sqrt(sq);
    }
};

void addColumns(const std::vector<EditRecord>& edits, const std::vector<int>& which, const EditedDown& at,
                double sign, RecordedChange& change, std::vector<int>& touching) {
    for (int i : which) {
        const EditRecord& e = edits[i];
        for (size_t j = 0; j < e.layers.size(); ++j) {
            if (e.layers[j] != at.layer || e.expertAt(j) != at.expert) continue;
            const Eigen::Index at = change.left.cols(), r = e.left[j].cols();
            change.left.conservativeResize(e.left[j].rows(), at + r);
            change.right.conservativeResize(e.right[j].rows(), at + r);
            change.left.rightCols(r) = sign * e.left[j].cast<double>();
            change.right.rightCols(r) = e.right[j].cast<double>();
            touching.push_back(i);
        }
    }
}

bool isHalfValue(float x) { return halfToFloat(floatToHalf(x)) == x; }

// The layer and expert of a tensor edits change (editedDownPath), or layer -1.
EditedDown editedDownAt(const std::string& path) {
    const std::string prefix = "/blocks/", experts = "/moe/experts/";
    if (path.rfind(prefix, 0) != 0 || path.size() <= prefix.size() || !std::isdigit(path[prefix.size()])) return {};
    size_t end = 0;
    const int layer = std::stoi(path.substr(prefix.size()), &end);
    const std::string rest = path.substr(prefix.size() + end);
    int expert = -1;
    if (rest.rfind(experts, 0) == 0 && rest.size() > experts.size() && std::isdigit(rest[experts.size()]))
        expert = std::stoi(rest.substr(experts.size()));
    return path == editedDownPath(layer, expert) ? EditedDown{layer, expert} : EditedDown{};
}

struct Comparer {
    const Model& a;
    const Model& b;
    const DiffOptions& options;
    ModelDiff& out;

    // Compares one tensor; `at.layer` >= 0 for a down projection edits change, whose
    // recorded change is checked.
    void compare(const std::string& path, const MapF& x, const MapF& y, const EditedDown& at) {
        RecordedChange recorded;
        if (at.layer >= 0) {
            addColumns(b.edits, out.newEdits, at, 1.0, recorded, recorded.newTouching);
            addColumns(a.edits, out.removedEdits, at, -1.0, recorded, recorded.removedTouching);
        }
        const long nRecords = recorded.records();
        // A linear scan (Eigen's any() walks a row-major matrix column by column).
        const bool differs = !std::equal(x.data(), x.data() + x.size(), y.data());
        if (!differs) {
            if (nRecords > 0) noteUnseenRecords(path, y, recorded);
            return;
        }
        TensorDiff t;
        t.path = path;
        t.rows = x.rows();
        t.cols = x.cols();
        const MatrixD d = y.cast<double>() - x.cast<double>();
        t.norm = d.norm();
        const double normA = x.cast<double>().norm();
        t.relativeNorm = normA > 0 ? t.norm / normA : std::numeric_limits<double>::infinity();
        t.maxAbs = d.cwiseAbs().maxCoeff();
        // Rounding floor over the changed elements (see the header).
        double changedSq = 0.0;
        bool halfA = true, halfB = true;
        for (Eigen::Index i = 0; i < d.size(); ++i) {
            if (d.data()[i] == 0.0) continue;
            ++t.changedElements;
            const double v = y.data()[i];
            changedSq += v * v;
            halfA = halfA && isHalfValue(x.data()[i]);
            halfB = halfB && isHalfValue(y.data()[i]);
        }
        // B's values were rounded to B's storage precision.
        const double unitRoundoff = halfB ? 0x1p-11 : 0x1p-24;
        const double roundingOfB = unitRoundoff * std::sqrt(changedSq);
        const double floor = roundingOfB * double(std::max<long>(1, nRecords));

        SpectrumOptions so;
        so.top = options.topSingularValues;
        so.relTol = options.rankTol;
        so.absTol = floor;
        so.exact = options.exactSpectrum;
        const Spectrum s = spectrum(d, so);
        t.rank = s.rank;
        t.rankIsLowerBound = s.rankIsLowerBound;
        t.singularValues = s.singularValues;

        if (nRecords > 0) {
            t.residual = t.norm > 0 ? recorded.residualNorm(d) / t.norm : 0.0;
            t.explained = t.residual * t.norm <= options.explainTol * t.norm + 2.0 * floor;
            t.edits = recorded.newTouching;
            t.removedEdits = recorded.removedTouching;
        }
        // A float32 model saved as float16: B is A rounded, and records that predict a
        // change here are not reflected in the weights.
        if (!t.explained && halfB && !halfA && t.norm <= 2.0 * roundingOfB) {
            t.float16Rounding = true;
            if (nRecords > 0) noteUnseenRecords(path, y, recorded);
            t.edits.clear();
            t.removedEdits.clear();
            t.residual = 1.0;
        }
        if (!t.explained && !t.float16Rounding) out.unexplained.push_back(path);
        out.tensors.push_back(std::move(t));
    }

    void noteUnseenRecords(const std::string& path, const MapF& y, const RecordedChange& recorded) {
        const double floor = 2.0 * 0x1p-11 * y.cast<double>().norm();  // generous: any storage type
        if (recorded.normSquared() <= floor * floor) return;
        for (int i : recorded.newTouching)
            out.editsWithoutChange.push_back(modelName(b, "the second model") + "'s /edits/" + std::to_string(i) +
                                             " is not reflected in " + path);
        for (int i : recorded.removedTouching)
            out.editsWithoutChange.push_back(modelName(a, "the first model") + "'s /edits/" + std::to_string(i) +
                                             " (absent from the other) is not reflected in " + path);
    }
};

}  // namespace

ModelDiff diffModels(const Model& a, const Model& b, const DiffOptions& options, const ProgressFn& progress) {
    const std::string nameA = modelName(a, "the first model"), nameB = modelName(b, "the second model");
    const ModelConfig& ca = a.config;
    const ModelConfig& cb = b.config;
    // The comparison points into float32 tensors (two large models would not fit in
    // memory together anyway).
    for (const auto& [m, name] : {std::pair{&a, &nameA}, std::pair{&b, &nameB}})
        if (hasHalfWeights(m->weights))
            throw InvalidInput("cannot compare " + *name + ": its weights are kept in float16 in memory (load it with --weights float32)");
    auto differentShapes = [&](const std::string& what) {
        return InvalidInput(nameA + " and " + nameB + " have different shapes (" + what + "), so they cannot be compared");
    };
    if (ca.architecture != cb.architecture)
        throw differentShapes(toString(ca.architecture) + " vs " + toString(cb.architecture));
    if (ca.nLayers != cb.nLayers)
        throw differentShapes(std::to_string(ca.nLayers) + " vs " + std::to_string(cb.nLayers) + " layers");
    if (ca.tieEmbeddings != cb.tieEmbeddings)
        throw differentShapes(std::string("tied embeddings in ") + (ca.tieEmbeddings ? nameA : nameB) + " only");
    if (int(a.weights.blocks.size()) != ca.nLayers || int(b.weights.blocks.size()) != cb.nLayers)
        throw InvalidInput("a model's weights do not match its configuration (number of blocks)");
    for (size_t i = 0; i < a.edits.size(); ++i) checkRecord(a.edits[i], ca, nameA, i);
    for (size_t i = 0; i < b.edits.size(); ++i) checkRecord(b.edits[i], cb, nameB, i);

    std::map<std::string, TensorView> viewsB;
    forEachTensor(cb, b.weights, [&](const std::string& path, const auto& t) {
        viewsB[path] = {t.data(), long(t.rows()), long(t.cols())};
    });

    ModelDiff out;
    out.config = diffConfigs(ca, cb);
    out.tokenizer = diffTokenizers(a.tokenizer.spec(), b.tokenizer.spec());
    splitRecords(a, b, out);

    // Shapes first, so that a mismatch is reported before any work.
    std::vector<std::pair<std::string, TensorView>> viewsA;
    forEachTensor(ca, a.weights, [&](const std::string& path, const auto& t) {
        const TensorView va{t.data(), long(t.rows()), long(t.cols())};
        const auto it = viewsB.find(path);
        if (it == viewsB.end()) throw differentShapes(path + " exists only in " + nameA);
        if (it->second.rows != va.rows || it->second.cols != va.cols)
            throw differentShapes(path + " is " + shapeText(va.rows, va.cols) + " in " + nameA + " but " +
                                  shapeText(it->second.rows, it->second.cols) + " in " + nameB);
        viewsA.emplace_back(path, va);
    });

    Comparer comparer{a, b, options, out};
    for (size_t i = 0; i < viewsA.size(); ++i) {
        report(progress, {long(i), long(viewsA.size()), "compare"});
        const auto& [path, va] = viewsA[i];
        const TensorView vb = viewsB.at(path);
        comparer.compare(path, MapF(va.data, va.rows, va.cols), MapF(vb.data, vb.rows, vb.cols),
                         editedDownAt(path));
    }
    report(progress, {long(viewsA.size()), long(viewsA.size()), "compare"});

    out.identical = out.tensors.empty() && out.config.empty() && out.tokenizer.empty() &&
                    out.newEdits.empty() && out.removedEdits.empty();
    return out;
}

nlohmann::json toJson(const ModelDiff& d) {
    auto finiteOrNull = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); };
    nlohmann::json tensors = nlohmann::json::array();
    for (const TensorDiff& t : d.tensors) {
        nlohmann::json j;
        j["path"] = t.path;
        j["shape"] = t.cols == 1 ? nlohmann::json::array({t.rows}) : nlohmann::json::array({t.rows, t.cols});
        j["norm"] = t.norm;
        j["relative_norm"] = finiteOrNull(t.relativeNorm);
        j["max_abs"] = t.maxAbs;
        j["changed_elements"] = t.changedElements;
        j["rank"] = t.rank;
        j["rank_is_lower_bound"] = t.rankIsLowerBound;
        j["singular_values"] = t.singularValues;
        j["edit"] = t.edits.empty() || !t.explained ? nlohmann::json(nullptr) : nlohmann::json(t.edits.front());
        j["edits"] = t.edits;
        j["removed_edits"] = t.removedEdits;
        j["explained"] = t.explained;
        j["cause"] = t.explained ? nlohmann::json("edit")
                     : t.float16Rounding ? nlohmann::json("float16 rounding") : nlohmann::json(nullptr);
        j["residual"] = t.residual;
        if (!t.explained && !t.float16Rounding) j["problem"] = kUnrecordedChange;
        tensors.push_back(std::move(j));
    }
    auto fields = [](const std::vector<FieldDiff>& list) {
        nlohmann::json out = nlohmann::json::array();
        for (const FieldDiff& f : list) out.push_back({{"field", f.field}, {"a", f.a}, {"b", f.b}});
        return out;
    };
    return {{"identical", d.identical},
            {"tensors", tensors},
            {"unexplained", d.unexplained},
            {"config", fields(d.config)},
            {"tokenizer", fields(d.tokenizer)},
            {"edits",
             {{"new", d.newEdits}, {"removed", d.removedEdits}, {"without_change", d.editsWithoutChange}}}};
}

}  // namespace mwb
