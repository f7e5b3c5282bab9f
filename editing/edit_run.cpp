#include "editing/edit_run.h"

#include <algorithm>
#include <map>

#include "editing/edit_history.h"
#include "editing/memit.h"
#include "tensor/errors.h"

namespace mwb {

std::string toString(EditMethod m) { return m == EditMethod::Rome ? "rome" : "memit"; }

EditMethod parseEditMethod(const std::string& s) {
    if (s == "rome") return EditMethod::Rome;
    if (s == "memit") return EditMethod::Memit;
    throw InvalidInput("the editing method must be rome or memit, not " + quote(s));
}

ValueParams defaultValueParams(EditMethod m) { return m == EditMethod::Rome ? RomeParams{}.value : MemitParams{}.value; }

std::vector<int> memitLayersEndingAt(int last, int count) {
    std::vector<int> layers;
    for (int l = std::max(0, last - count + 1); l <= last; ++l) layers.push_back(l);
    return layers;
}

std::vector<int> memitLayersExactly(int last, int count, int nLayers) {
    if (count < 1) throw InvalidInput("MEMIT needs at least one layer");
    if (last < 0 || last >= nLayers)
        throw InvalidInput("layer " + std::to_string(last) + " is out of range (the model has " +
                           std::to_string(nLayers) + " layers)");
    if (last - count + 1 < 0)
        throw InvalidInput(std::to_string(count) + " MEMIT layers ending at layer " + std::to_string(last) +
                           " would start below layer 0: choose layer " + std::to_string(count - 1) +
                           " or higher, or at most " + std::to_string(last + 1) + " MEMIT layers");
    return memitLayersEndingAt(last, count);
}

namespace {

// The reference's prefixes (5 or 10 generated tokens after a start word) shortened for
// models with a small context, so that prefix, prompt and target still fit: at most
// n_ctx / 6 tokens generated, and start words longer than that left out (a byte-level
// vocabulary spells "Therefore" in nine tokens), keeping the shortest.
ContextTemplateOptions fitted(ContextTemplateOptions o, const Model& model) {
    const int budget = model.config.nCtx / 6;
    for (auto& [length, count] : o.lengths) length = std::max(1, std::min(length, budget));
    auto tokens = [&](const std::string& w) { return model.tokenizer.encodeIds(w).size(); };
    std::vector<std::string> starts;
    for (const auto& w : o.starts)
        if (static_cast<int>(tokens(w)) <= budget) starts.push_back(w);
    if (starts.empty() && !o.starts.empty())
        starts = {*std::min_element(o.starts.begin(), o.starts.end(),
                                    [&](const auto& a, const auto& b) { return tokens(a) < tokens(b); })};
    o.starts = std::move(starts);
    return o;
}

void checkLayer(int layer, const Model& model) {
    if (layer < 0 || layer >= model.config.nLayers)
        throw InvalidInput("layer " + std::to_string(layer) + " is out of range (the model has " +
                           std::to_string(model.config.nLayers) + " layers)");
}

// C of each key site; of the model before its recorded edits if the spec asks: the
// earlier edits' weights are swapped back for the pass over the corpus (and the cache
// lookup, which then finds the unedited model's statistics).
std::map<KeySite, MatrixD> editStatistics(Model& model, const std::vector<KeySite>& sites, const std::string& corpus,
                                          const EditSpec& spec, const ProgressFn& progress) {
    std::map<std::pair<int, int>, Matrix> other;
    if (spec.statsOfUneditedModel) other = weightsBeforeEdits(model);
    auto swap = [&] {
        for (auto& [at, w] : other) std::swap(editedDown(model.weights, at.first, at.second), w);
    };
    swap();
    std::map<KeySite, SecondMoment> moments;
    try {
        moments = keySecondMoments(model, sites, corpus, spec.stats, progress);
    } catch (...) {
        swap();
        throw;
    }
    swap();
    std::map<KeySite, MatrixD> out;
    for (auto& [site, m] : moments) out[site] = std::move(m.moment);
    return out;
}

}  // namespace

MatrixD earlierEditKeys(const Model& model, int layer, int expert) {
    MatrixD all(editedKeyWidth(model.config, expert), 0);
    for (const EditRecord& e : model.edits)
        for (size_t j = 0; j < e.keys.size() && j < e.layers.size(); ++j)
            if (e.layers[j] == layer && e.expertAt(j) == expert) {
                all.conservativeResize(Eigen::NoChange, all.cols() + e.keys[j].cols());
                all.rightCols(e.keys[j].cols()) = e.keys[j].cast<double>();
            }
    return all;
}

EditRun runEdit(Model& model, const std::vector<EditRequest>& requests, const EditSpec& spec,
                const std::string& corpus, const ProgressFn& progress) {
    if (requests.empty()) throw InvalidInput("no edit requests");
    if (spec.layers.empty()) throw InvalidInput("no layer to edit");
    for (int l : spec.layers) checkLayer(l, model);
    for (const auto& r : requests) validateRequest(r);
    EditRun out;
    EditRecord& record = out.record;
    record.method = toString(spec.method);
    if (requests.size() == 1) {
        record.subject = requests[0].subject;
        record.prompt = requests[0].prompt;
        record.targetNew = requests[0].targetNew;
        record.targetTrue = requests[0].targetTrue;
    } else {
        record.subject = std::to_string(requests.size()) + " subjects";
        record.prompt = "(batch)";
    }
    ContextTemplateOptions chosen;
    if (spec.templates) {
        chosen = *spec.templates;
    } else {
        if (spec.method == EditMethod::Memit) chosen = memitContextTemplates();
        chosen.seed = spec.templateSeed;
        chosen.subjectTokensAsInPrompt = spec.subjectTokensAsInPrompt;
    }
    const ContextTemplateOptions templates = fitted(chosen, model);
    if (spec.method == EditMethod::Rome) {
        if (requests.size() != 1) throw InvalidInput("ROME edits one fact at a time; use MEMIT for a batch");
        if (spec.layers.size() != 1) throw InvalidInput("ROME edits one layer; use MEMIT for several");
        RomeParams p;
        p.layer = spec.layers[0];
        p.factToken = spec.factToken;
        p.keyMode = spec.keyMode;
        if (spec.keyContext) p.keyContext = *spec.keyContext;
        if (spec.value) p.value = *spec.value;
        p.templates = templates;
        p.expert = spec.expert;
        if (model.config.moeLayer(p.layer) && p.expert < 0)
            p.expert = subjectExperts(model, requests, {p.layer}, p.factToken).at(p.layer).front();
        if (const std::string problem = editTargetProblem(model.config, p.layer, p.expert); !problem.empty())
            throw InvalidInput(problem);
        const KeySite site{p.layer, p.expert};
        MatrixD c = std::move(editStatistics(model, {site}, corpus, spec, progress).at(site));
        const RomeResult r = computeRome(model, requests[0], p, std::move(c), progress);
        record.layers = {p.layer};
        if (r.expert >= 0) record.experts = {r.expert};
        record.left = {Matrix(r.left)};
        record.right = {Matrix(r.right)};
        record.keys = {Matrix(updatedKey(r, p.keyMode))};
        out.weightChange = r.weightChange;
        out.outputChange = r.outputChange;
        out.details = toJson(r);
    } else {
        MemitParams p;
        p.layers = spec.layers;
        std::sort(p.layers.begin(), p.layers.end());
        p.layers.erase(std::unique(p.layers.begin(), p.layers.end()), p.layers.end());
        p.factToken = spec.factToken;
        if (spec.value) p.value = *spec.value;
        p.templates = templates;
        p.momentWeight = spec.momentWeight;
        p.separateSubjectValues = spec.separateSubjectValues;
        p.passes = spec.passes;
        if (spec.keyContext) p.keyContext = *spec.keyContext;
        p.nullSpace = spec.nullSpace;
        p.nullSpaceThreshold = spec.nullSpaceThreshold;
        p.nullSpaceThresholdIsAbsolute = spec.nullSpaceThresholdIsAbsolute;
        p.nullSpaceL2 = spec.nullSpaceL2;
        // A record's entries are all MLPs' or all experts' (docs/file-format.md).
        for (int l : p.layers)
            if (model.config.moeLayer(l) != model.config.moeLayer(p.layers.front()))
                throw InvalidInput("MEMIT's layers must be all dense or all mixtures of experts; layers " +
                                   std::to_string(p.layers.front()) + " and " + std::to_string(l) + " are not");
        // In sparse layers, each request's top expert there (memit.h).
        p.experts = subjectExperts(model, requests, p.layers, p.factToken);
        std::vector<KeySite> sites;
        for (int l : p.layers) {
            std::vector<int> experts = model.config.moeLayer(l) ? p.experts.at(l) : std::vector<int>{-1};
            std::sort(experts.begin(), experts.end());
            experts.erase(std::unique(experts.begin(), experts.end()), experts.end());
            for (int e : experts) sites.push_back({l, e});
        }
        // Sequential AlphaEdit: every earlier edit's keys stay where they are.
        if (p.nullSpace)
            for (const KeySite& site : sites)
                if (MatrixD k = earlierEditKeys(model, site.layer, site.expert); k.cols() > 0)
                    p.previousKeys[site] = std::move(k);
        const std::map<KeySite, MatrixD> moments = editStatistics(model, sites, corpus, spec, progress);
        // applyMemit writes the update as it goes; put the weights back afterwards (or
        // on cancellation) so that applyEdit records exactly what it replaces.
        std::vector<Matrix> before;
        for (const KeySite& site : sites) before.push_back(editedDown(model.weights, site.layer, site.expert));
        auto restore = [&] {
            for (size_t i = 0; i < sites.size(); ++i)
                editedDown(model.weights, sites[i].layer, sites[i].expert) = before[i];
        };
        MemitResult r;
        try {
            r = applyMemit(model, requests, p, moments, progress);
        } catch (...) {
            restore();
            throw;
        }
        restore();
        for (const auto& u : r.updates) {
            record.layers.push_back(u.layer);
            if (u.expert >= 0) record.experts.push_back(u.expert);
            record.left.push_back(u.left);
            record.right.push_back(u.right);
            out.weightChange += u.weightChange;
            out.outputChange += u.outputChange;
            record.keys.push_back(u.keys.cast<float>());
        }
        out.details = toJson(r);
    }
    applyEdit(model, record);
    return out;
}

}  // namespace mwb
