#include "metrics/perplexity.h"

#include <algorithm>
#include <cmath>

#include "metrics/next_token_metrics.h"
#include "tensor/errors.h"

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

// Adds the NLL of every next token of `chunk` given its final residual stream.
void addNll(const Transformer& t, const Matrix& final, const std::vector<int>& chunk, NllSum& acc) {
    const int n = static_cast<int>(chunk.size()) - 1;
    for (int first = 0; first < n; first += kRowBlock) {
        const int rows = std::min(kRowBlock, n - first);
        const Matrix logits = t.unembed(final.middleRows(first, rows));
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
    return corpusPerplexity(
        t, chunks, [&](size_t c) { return t.run(chunks[c], {}, LogitsMode::None).resid[t.config().nLayers]; },
        progress);
}

CorpusScore corpusPerplexity(const Transformer& t, const std::vector<std::vector<int>>& chunks,
                             const FinalStateFn& final, const ProgressFn& progress) {
    NllSum acc;
    for (size_t i = 0; i < chunks.size(); ++i) {
        report(progress, {static_cast<long>(i), static_cast<long>(chunks.size()), "perplexity"});
        addNll(t, final(i), chunks[i], acc);
    }
    report(progress, {static_cast<long>(chunks.size()), static_cast<long>(chunks.size()), "perplexity"});
    return acc.score();
}

CorpusComparison compareOnCorpus(const Transformer& t, const std::vector<std::vector<int>>& chunks,
                                 const FinalStateFn& original, const FinalStateFn& variant,
                                 const ProgressFn& progress) {
    NllSum orig, var;
    double klSum = 0.0, klMax = 0.0;
    for (size_t c = 0; c < chunks.size(); ++c) {
        report(progress, {static_cast<long>(c), static_cast<long>(chunks.size()), "compare on corpus"});
        const auto& chunk = chunks[c];
        const Matrix a = original(c);
        const Matrix b = variant(c);
        const int n = static_cast<int>(chunk.size()) - 1;
        for (int first = 0; first < n; first += kRowBlock) {
            const int rows = std::min(kRowBlock, n - first);
            const Matrix la = t.unembed(a.middleRows(first, rows));
            const Matrix lb = t.unembed(b.middleRows(first, rows));
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
