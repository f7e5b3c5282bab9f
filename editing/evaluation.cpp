#include "editing/evaluation.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>

#include "editing/ngram_entropy.h"
#include "tokenizer/continuation.h"
#include "tensor/errors.h"
#include "tensor/parallel.h"
#include "model/generate.h"

namespace mwb {

namespace {

// −log softmax(logits)[id], in double.
double tokenNll(const Eigen::Ref<const RowVector>& logits, int id) {
    const double maxLogit = logits.maxCoeff();
    double sum = 0.0;
    for (Eigen::Index i = 0; i < logits.size(); ++i) sum += std::exp(double(logits[i]) - maxLogit);
    return maxLogit + std::log(sum) - double(logits[id]);
}

// Fraction of successes and mean magnitude over prompts; NaN for no prompts.
// `newWins`: success is NLL(new) < NLL(true) (efficacy, paraphrase), else the reverse.
void score(const std::vector<PromptNll>& prompts, bool newWins, double& success, double& magnitude) {
    if (prompts.empty()) return;
    double wins = 0.0, diff = 0.0;
    for (const PromptNll& p : prompts) {
        const double pNew = std::exp(-p.nllNew), pTrue = std::exp(-p.nllTrue);
        wins += newWins ? (p.nllNew < p.nllTrue) : (p.nllTrue < p.nllNew);
        diff += newWins ? pNew - pTrue : pTrue - pNew;
    }
    success = wins / double(prompts.size());
    magnitude = diff / double(prompts.size());
}

MeanStd meanStd(const std::vector<CaseMetrics>& cases, double CaseMetrics::*field, double scale) {
    MeanStd m;
    double sum = 0.0, sumSq = 0.0;
    for (const CaseMetrics& c : cases) {
        const double v = c.*field;
        if (std::isnan(v)) continue;
        ++m.count;
        sum += v * scale;
        sumSq += v * scale * v * scale;
    }
    if (m.count == 0) return m;
    m.mean = sum / m.count;
    m.std = std::sqrt(std::max(0.0, sumSq / m.count - m.mean * m.mean));
    return m;
}

nlohmann::json number(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

}  // namespace

std::vector<std::pair<double, double>> targetNlls(const Transformer& transformer,
                                                  const std::vector<std::string>& prompts,
                                                  const std::string& targetA, const std::string& targetB) {
    const Tokenizer& tokenizer = transformer.model().tokenizer;
    const int nCtx = transformer.config().nCtx;
    const int n = int(prompts.size());
    std::vector<std::vector<int>> ids(n);
    std::vector<std::array<std::vector<int>, 2>> targets(n);
    for (int i = 0; i < n; ++i) {
        ids[i] = tokenizer.encodeIds(prompts[i]);
        if (ids[i].empty()) throw InvalidInput("the prompt " + quote(prompts[i]) + " gives no tokens");
        targets[i][0] = continuationIds(tokenizer, prompts[i], targetA);
        targets[i][1] = continuationIds(tokenizer, prompts[i], targetB);
        const size_t longest = std::max(targets[i][0].size(), targets[i][1].size());
        if (ids[i].size() + longest - 1 > size_t(nCtx))
            throw InvalidInput("the prompt " + quote(prompts[i]) + " with its target is longer than the model's context of " +
                               std::to_string(nCtx) + " tokens");
    }
    // First target token: the prompt's last position, both targets from one run.
    std::vector<RunState> states = transformer.runBatch(ids, {}, LogitsMode::Last);
    std::vector<std::pair<double, double>> out(n);
    for (int i = 0; i < n; ++i)
        out[i] = {tokenNll(states[i].lastLogits(), targets[i][0][0]), tokenNll(states[i].lastLogits(), targets[i][1][0])};
    // Further tokens: extend a copy of the prompt's state by the target minus its last token.
    std::vector<std::pair<int, int>> jobs;  // (prompt, target)
    for (int i = 0; i < n; ++i)
        for (int k = 0; k < 2; ++k)
            if (targets[i][k].size() > 1) jobs.push_back({i, k});
    std::vector<double> extra(jobs.size(), 0.0);
    parallelFor(int(jobs.size()), [&](int j) {
        const auto [i, k] = jobs[j];
        const std::vector<int>& target = targets[i][k];
        RunState s = states[i];
        transformer.extend(s, std::vector<int>(target.begin(), target.end() - 1), {}, LogitsMode::All);
        for (size_t t = 1; t < target.size(); ++t) extra[j] += tokenNll(s.logits.row(t - 1), target[t]);
    });
    for (size_t j = 0; j < jobs.size(); ++j) {
        const auto [i, k] = jobs[j];
        (k == 0 ? out[i].first : out[i].second) += extra[j];
    }
    for (int i = 0; i < n; ++i) {
        out[i].first /= double(targets[i][0].size());
        out[i].second /= double(targets[i][1].size());
    }
    return out;
}

std::vector<std::string> generateTexts(const Transformer& transformer, const std::vector<std::string>& prompts,
                                       const EvalOptions& options, uint64_t streamSeed, const ProgressFn& progress) {
    const Tokenizer& tokenizer = transformer.model().tokenizer;
    const int nCtx = transformer.config().nCtx;
    const int bos = tokenizer.spec().bosId, eos = tokenizer.spec().eosId;
    const int n = int(prompts.size());
    std::vector<std::vector<int>> ids(n);
    for (int i = 0; i < n; ++i) {
        ids[i] = tokenizer.encodeIds(prompts[i]);
        if (ids[i].empty()) throw InvalidInput("the generation prompt " + quote(prompts[i]) + " gives no tokens");
        if (ids[i].size() > size_t(nCtx))
            throw InvalidInput("the generation prompt " + quote(prompts[i]) + " is longer than the model's context of " +
                               std::to_string(nCtx) + " tokens");
    }
    std::vector<std::string> texts(n);
    // Chunks of one prompt per core, with progress (and cancellation) between chunks.
    const int chunk = std::max(1, omp_get_max_threads());
    for (int first = 0; first < n; first += chunk) {
        report(progress, {first, n, "generate"});
        const int count = std::min(chunk, n - first);
        parallelFor(count, [&](int j) {
            const int i = first + j;
            GenerateOptions g;
            g.maxNewTokens = std::max(0, options.generationLength - int(ids[i].size()));
            g.stopAtEos = false;  // the reference generates a fixed length
            g.sampling.temperature = options.topK > 0 ? 1.0f : 0.0f;
            g.sampling.topK = options.topK;
            g.sampling.seed = options.seed ^ (0x9E3779B97F4A7C15ull * (streamSeed * 1024 + uint64_t(i) + 1));
            const Generation gen = generate(transformer, ids[i], g);
            std::vector<int> all = ids[i];
            all.insert(all.end(), gen.newIds.begin(), gen.newIds.end());
            std::erase_if(all, [&](int id) { return id == bos || id == eos; });
            texts[i] = tokenizer.decode(all);
        });
    }
    report(progress, {n, n, "generate"});
    return texts;
}

CaseMetrics evaluateCase(const Model& model, const CounterFactCase& c, const EvalOptions& options,
                         const ProgressFn& progress) {
    const Transformer transformer(model);
    CaseMetrics m;
    m.caseId = c.caseId;
    std::vector<std::string> prompts = {c.rewritePrompt()};
    prompts.insert(prompts.end(), c.paraphrasePrompts.begin(), c.paraphrasePrompts.end());
    prompts.insert(prompts.end(), c.neighborhoodPrompts.begin(), c.neighborhoodPrompts.end());
    report(progress, {0, 1, "score prompts"});
    const auto nlls = targetNlls(transformer, prompts, c.targetNew, c.targetTrue);
    for (size_t i = 0; i < prompts.size(); ++i) {
        const PromptNll p{prompts[i], nlls[i].first, nlls[i].second};
        if (i == 0)
            m.rewrite.push_back(p);
        else if (i <= c.paraphrasePrompts.size())
            m.paraphrase.push_back(p);
        else
            m.neighborhood.push_back(p);
    }
    score(m.rewrite, true, m.efficacy, m.efficacyMagnitude);
    score(m.paraphrase, true, m.paraphraseSuccess, m.paraphraseMagnitude);
    score(m.neighborhood, false, m.neighborhoodSuccess, m.neighborhoodMagnitude);
    report(progress, {1, 1, "score prompts"});

    if (options.fluency && !c.generationPrompts.empty()) {
        std::vector<std::string> gen = c.generationPrompts;
        if (options.maxGenerationPrompts > 0 && int(gen.size()) > options.maxGenerationPrompts)
            gen.resize(options.maxGenerationPrompts);
        m.generations = generateTexts(transformer, gen, options, uint64_t(c.caseId), progress);
        double sum = 0.0;
        for (const std::string& text : m.generations) sum += textEntropy(text);
        m.fluency = sum / double(m.generations.size());
    }
    return m;
}

std::vector<CaseMetrics> evaluateCases(const Model& model, const std::vector<CounterFactCase>& cases,
                                       const EvalOptions& options, const ProgressFn& progress) {
    std::vector<CaseMetrics> out;
    out.reserve(cases.size());
    for (size_t i = 0; i < cases.size(); ++i) {
        report(progress, {long(i), long(cases.size()), "evaluate"});
        // Cancellation is also checked inside a case (between generations).
        const ProgressFn inner = [&](const Progress&) {
            return !progress || progress({long(i), long(cases.size()), "evaluate"});
        };
        out.push_back(evaluateCase(model, cases[i], options, inner));
    }
    report(progress, {long(cases.size()), long(cases.size()), "evaluate"});
    return out;
}

namespace {

bool isWordChar(char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || (ch & 0x80); }

// `text` contains `words` not run together with other letters or digits.
bool containsWords(const std::string& text, const std::string& words) {
    if (words.empty()) return false;
    for (size_t at = text.find(words); at != std::string::npos; at = text.find(words, at + 1)) {
        const size_t end = at + words.size();
        if ((at == 0 || !isWordChar(text[at - 1])) && (end == text.size() || !isWordChar(text[end]))) return true;
    }
    return false;
}

bool sameRelation(const CounterFactCase& a, const CounterFactCase& b) {
    return a.relationId.empty() && b.relationId.empty() ? a.prompt == b.prompt : a.relationId == b.relationId;
}

}  // namespace

std::vector<CounterFactCase> withoutEditedNeighbours(std::vector<CounterFactCase> run, int* dropped) {
    // Only neighbourhood prompts change; the subjects and relations read stay as given.
    for (size_t i = 0; i < run.size(); ++i) {
        auto& prompts = run[i].neighborhoodPrompts;
        const size_t before = prompts.size();
        std::erase_if(prompts, [&](const std::string& prompt) {
            for (size_t j = 0; j < run.size(); ++j)
                if (j != i && sameRelation(run[i], run[j]) && containsWords(prompt, run[j].subject)) return true;
            return false;
        });
        if (dropped) *dropped += int(before - prompts.size());
    }
    return run;
}

double harmonicMean(const std::vector<double>& values) {
    if (values.empty()) return kNaN;
    double sum = 0.0;
    for (double v : values) {
        if (std::isnan(v) || v < 0) return kNaN;
        if (v == 0) return 0.0;
        sum += 1.0 / v;
    }
    return double(values.size()) / sum;
}

Metrics aggregate(const std::vector<CaseMetrics>& cases) {
    Metrics m;
    m.cases = int(cases.size());
    m.efficacy = meanStd(cases, &CaseMetrics::efficacy, 100.0);
    m.paraphrase = meanStd(cases, &CaseMetrics::paraphraseSuccess, 100.0);
    m.neighborhood = meanStd(cases, &CaseMetrics::neighborhoodSuccess, 100.0);
    m.efficacyMagnitude = meanStd(cases, &CaseMetrics::efficacyMagnitude, 100.0);
    m.paraphraseMagnitude = meanStd(cases, &CaseMetrics::paraphraseMagnitude, 100.0);
    m.neighborhoodMagnitude = meanStd(cases, &CaseMetrics::neighborhoodMagnitude, 100.0);
    m.fluency = meanStd(cases, &CaseMetrics::fluency, 1.0);
    m.score = harmonicMean({m.efficacy.mean, m.paraphrase.mean, m.neighborhood.mean});
    return m;
}

nlohmann::json toJson(const Metrics& m) {
    nlohmann::json j;
    j["cases"] = m.cases;
    auto put = [&](const char* key, const MeanStd& s) {
        j[key] = number(s.mean);
        j[std::string(key) + "_std"] = number(s.std);
    };
    put("efficacy", m.efficacy);
    put("paraphrase", m.paraphrase);
    put("neighborhood", m.neighborhood);
    put("efficacy_magnitude", m.efficacyMagnitude);
    put("paraphrase_magnitude", m.paraphraseMagnitude);
    put("neighborhood_magnitude", m.neighborhoodMagnitude);
    put("fluency", m.fluency);
    j["score"] = number(m.score);
    return j;
}

nlohmann::json toJson(const CaseMetrics& c) {
    auto prompts = [](const std::vector<PromptNll>& list) {
        nlohmann::json out = nlohmann::json::array();
        for (const PromptNll& p : list)
            out.push_back({{"prompt", p.prompt}, {"nll_new", p.nllNew}, {"nll_true", p.nllTrue}});
        return out;
    };
    return {{"case_id", c.caseId},
            {"efficacy", number(100 * c.efficacy)},
            {"paraphrase", number(100 * c.paraphraseSuccess)},
            {"neighborhood", number(100 * c.neighborhoodSuccess)},
            {"efficacy_magnitude", number(100 * c.efficacyMagnitude)},
            {"paraphrase_magnitude", number(100 * c.paraphraseMagnitude)},
            {"neighborhood_magnitude", number(100 * c.neighborhoodMagnitude)},
            {"fluency", number(c.fluency)},
            {"rewrite_prompts", prompts(c.rewrite)},
            {"paraphrase_prompts", prompts(c.paraphrase)},
            {"neighborhood_prompts", prompts(c.neighborhood)},
            {"generations", c.generations}};
}

}  // namespace mwb
