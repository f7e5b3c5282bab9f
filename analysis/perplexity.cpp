#include "analysis/perplexity.h"

#include <algorithm>
#include <cmath>

#include "analysis/next_token_metrics.h"
#include "model/errors.h"

namespace mwb {

namespace {

constexpr int kRowBlock = 64;  // rows unembedded at a time, to bound memory

struct NllSum {
    double sum = 0.0;
    long count = 0;
    CorpusScore score() const {
        CorpusScore s;
        s.tokens = count;
        s.meanNll = count ? sum / count : 0.0;
        s.perplexity = std::exp(s.meanNll);
        return s;
    }
};

// Adds the NLL of every next token of `chunk` given a run with LogitsMode::None.
// Logits of rows [first, first + n) of a state run with LogitsMode::None: [n x vocab].
Matrix logitsOf(const Transformer& t, const RunState& s, int first, int n) {
    return t.unembed(s.resid[t.config().nLayers].middleRows(first, n));
}

void addNll(const Transformer& t, const RunState& s, const std::vector<int>& chunk, NllSum& acc) {
    const int n = static_cast<int>(chunk.size()) - 1;
    for (int first = 0; first < n; first += kRowBlock) {
        const int rows = std::min(kRowBlock, n - first);
        const Matrix logits = logitsOf(t, s, first, rows);
        for (int i = 0; i < rows; ++i) {
            acc.sum -= logSoftmax(logits.row(i))[chunk[first + i + 1]];
            ++acc.count;
        }
    }
}

}  // namespace

std::vector<std::vector<int>> corpusChunks(const Model& model, const std::string& text, long maxTokens) {
    std::vector<int> ids = model.tokenizer.encodeIds(text, false);
    if (maxTokens > 0 && static_cast<long>(ids.size()) > maxTokens) ids.resize(maxTokens);
    if (ids.size() < 2) throw InvalidInput("the corpus text gives fewer than 2 tokens; perplexity needs more");
    const auto& spec = model.tokenizer.spec();
    const bool bos = spec.addBos && spec.bosId >= 0;
    const int perChunk = model.config.nCtx - (bos ? 1 : 0);
    if (perChunk < 1) throw InvalidInput("the model's context is too short for perplexity chunks");
    std::vector<std::vector<int>> chunks;
    for (size_t at = 0; at < ids.size(); at += perChunk) {
        std::vector<int> chunk;
        if (bos) chunk.push_back(spec.bosId);
        const size_t end = std::min(ids.size(), at + perChunk);
        chunk.insert(chunk.end(), ids.begin() + at, ids.begin() + end);
        if (chunk.size() >= 2) chunks.push_back(std::move(chunk));
    }
    return chunks;
}

CorpusScore corpusPerplexity(const Model& model, const std::vector<std::vector<int>>& chunks,
                             const ProgressFn& progress) {
    const Transformer t(model);
    NllSum acc;
    for (size_t i = 0; i < chunks.size(); ++i) {
        report(progress, {static_cast<long>(i), static_cast<long>(chunks.size()), "perplexity"});
        addNll(t, t.run(chunks[i], {}, LogitsMode::None), chunks[i], acc);
    }
    report(progress, {static_cast<long>(chunks.size()), static_cast<long>(chunks.size()), "perplexity"});
    return acc.score();
}

CorpusScore variantPerplexity(ModelVariant& variant, const std::vector<std::vector<int>>& chunks,
                              const ProgressFn& progress) {
    NllSum acc;
    for (size_t i = 0; i < chunks.size(); ++i) {
        report(progress, {static_cast<long>(i), static_cast<long>(chunks.size()), "perplexity"});
        addNll(variant.transformer(), variant.runVariant(chunks[i], LogitsMode::None), chunks[i], acc);
    }
    report(progress, {static_cast<long>(chunks.size()), static_cast<long>(chunks.size()), "perplexity"});
    return acc.score();
}

namespace {

// Compares chunk by chunk; original(c) gives the original's final residual stream
// of chunk c ([chunk size x dModel]).
template <typename OriginalFn>
CorpusComparison compareChunks(ModelVariant& variant, const std::vector<std::vector<int>>& chunks,
                               OriginalFn original, const ProgressFn& progress) {
    const Transformer& t = variant.transformer();
    const int nLayers = t.config().nLayers;
    NllSum orig, var;
    double klSum = 0.0, klMax = 0.0;
    for (size_t c = 0; c < chunks.size(); ++c) {
        report(progress, {static_cast<long>(c), static_cast<long>(chunks.size()), "compare on corpus"});
        const auto& chunk = chunks[c];
        const Matrix a = original(c);
        const RunState b = variant.runVariant(chunk, LogitsMode::None);
        const int n = static_cast<int>(chunk.size()) - 1;
        for (int first = 0; first < n; first += kRowBlock) {
            const int rows = std::min(kRowBlock, n - first);
            const Matrix la = t.unembed(a.middleRows(first, rows));
            const Matrix lb = t.unembed(b.resid[nLayers].middleRows(first, rows));
            for (int i = 0; i < rows; ++i) {
                const VectorD pa = logSoftmax(la.row(i)), pb = logSoftmax(lb.row(i));
                const int next = chunk[first + i + 1];
                orig.sum -= pa[next];
                var.sum -= pb[next];
                ++orig.count;
                ++var.count;
                const double kl = klDivergence(pa, pb);
                klSum += kl;
                klMax = std::max(klMax, kl);
            }
        }
    }
    report(progress, {static_cast<long>(chunks.size()), static_cast<long>(chunks.size()), "compare on corpus"});
    CorpusComparison out;
    out.original = orig.score();
    out.variant = var.score();
    out.meanKl = orig.count ? klSum / orig.count : 0.0;
    out.maxKl = klMax;
    return out;
}

}  // namespace

CorpusComparison compareOnCorpus(ModelVariant& variant, const std::vector<std::vector<int>>& chunks,
                                 const ProgressFn& progress) {
    const int nLayers = variant.model().config.nLayers;
    return compareChunks(
        variant, chunks,
        [&](size_t c) -> Matrix {
            const RunState s = variant.runOriginal(chunks[c], LogitsMode::None);
            return s.resid[nLayers].topRows(s.nTokens);
        },
        progress);
}

CorpusComparison compareOnCorpus(ModelVariant& variant, const std::vector<std::vector<int>>& chunks,
                                 const std::vector<Matrix>& originalFinal, const ProgressFn& progress) {
    if (originalFinal.size() != chunks.size())
        throw InvalidInput("the cached original states do not match the corpus chunks");
    for (size_t c = 0; c < chunks.size(); ++c)
        if (originalFinal[c].rows() != static_cast<long>(chunks[c].size()) ||
            originalFinal[c].cols() != variant.model().config.dModel)
            throw InvalidInput("the cached original states do not match the corpus chunks");
    return compareChunks(variant, chunks, [&](size_t c) -> Matrix { return originalFinal[c]; }, progress);
}

std::vector<Matrix> finalStates(const Model& model, const std::vector<std::vector<int>>& chunks,
                                const ProgressFn& progress) {
    const Transformer t(model);
    std::vector<Matrix> out;
    for (size_t c = 0; c < chunks.size(); ++c) {
        report(progress, {static_cast<long>(c), static_cast<long>(chunks.size()), "original"});
        const RunState s = t.run(chunks[c], {}, LogitsMode::None);
        out.push_back(s.resid[model.config.nLayers].topRows(s.nTokens));
    }
    return out;
}

nlohmann::json toJson(const CorpusScore& s) {
    return {{"tokens", s.tokens}, {"mean_nll", s.meanNll}, {"perplexity", s.perplexity}};
}

nlohmann::json toJson(const CorpusComparison& c) {
    return {{"original", toJson(c.original)}, {"variant", toJson(c.variant)}, {"mean_kl", c.meanKl},
            {"max_kl", c.maxKl}};
}

}  // namespace mwb
