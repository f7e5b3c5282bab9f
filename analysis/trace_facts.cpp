// The average indirect effect over a facts file (causal_trace.h, traceFacts): every
// fact traced on its own, in shards of a few facts that may run on different ranks,
// then averaged on rank 0 in fact order.
#include <array>
#include <map>

#include "analysis/causal_trace.h"
#include "cluster/bytes.h"
#include "tensor/errors.h"

namespace mwb {

namespace {

// Facts per shard: the unit of work split over ranks and kept by a checkpoint. Small,
// because ranks wait for each other at the end of every round of shards.
constexpr int kFactsPerShard = 4;

// What the average needs of one fact's trace, as a shard sends it to rank 0.
void putTrace(cluster::ByteWriter& w, const CausalTraceResult& r, const std::vector<TraceKind>& kinds) {
    w.put<uint8_t>(r.answerIsTopPrediction);
    w.put(r.probClean);
    w.put(r.probCorrupted);
    w.put<int32_t>(r.subjectBegin);
    w.put<int32_t>(r.subjectEnd);
    w.put<int32_t>(int32_t(r.ids.size()));
    for (TraceKind k : kinds) w.put(r.probRestored.at(k));
}

CausalTraceResult getTrace(cluster::ByteReader& in, const std::vector<TraceKind>& kinds) {
    CausalTraceResult r;
    r.answerIsTopPrediction = in.get<uint8_t>() != 0;
    r.probClean = in.get<double>();
    r.probCorrupted = in.get<double>();
    r.subjectBegin = in.get<int32_t>();
    r.subjectEnd = in.get<int32_t>();
    r.ids.resize(size_t(in.get<int32_t>()));
    for (TraceKind k : kinds) r.probRestored[k] = in.getMatrix();
    return r;
}

// The sums of the average, added to fact by fact in the facts' order.
struct TraceSums {
    std::map<TraceKind, MatrixD> sums, effectSums;
    std::array<long, 6> counts{};
};

void addFact(const CausalTraceResult& r, const CausalTraceParams& params, bool skipWrong, int nLayers,
             AverageTraceResult& avg, TraceSums& t) {
    if (skipWrong && !r.answerIsTopPrediction) {
        ++avg.factsSkipped;
        return;
    }
    ++avg.factsUsed;
    avg.meanProbClean += r.probClean;
    avg.meanProbCorrupted += r.probCorrupted;
    // Token categories as in the paper's Figure 2 (and its summarising code):
    // every middle-subject and further token counts as one sample of its category.
    const int b = r.subjectBegin, e = r.subjectEnd, last = static_cast<int>(r.ids.size()) - 1;
    std::vector<std::pair<int, int>> rowsOf = {{0, b}, {2, e - 1}, {5, last}};
    for (int tok = b + 1; tok < e - 1; ++tok) rowsOf.push_back({1, tok});
    if (e <= last) rowsOf.push_back({3, e});
    for (int tok = e + 1; tok < last; ++tok) rowsOf.push_back({4, tok});
    for (const auto& [cat, tok] : rowsOf) {
        ++t.counts[cat];
        for (TraceKind k : params.kinds) {
            t.sums[k].row(cat) += r.probRestored.at(k).row(tok);
            t.effectSums[k].row(cat) +=
                r.probRestored.at(k).row(tok).array().matrix() - MatrixD::Constant(1, nLayers, r.probCorrupted);
        }
    }
}

}  // namespace

AverageTraceResult traceFacts(const Model& model, const std::vector<KnownFact>& facts,
                              const CausalTraceParams& params, bool skipWrong, const ProgressFn& progress,
                              const cluster::ShardRun& run) {
    if (facts.empty()) throw InvalidInput("the facts file holds no facts");
    AverageTraceResult avg;
    avg.params = params;
    std::vector<std::string> subjects;
    for (const auto& f : facts) subjects.push_back(f.subject);
    avg.noise = params.noise ? NoiseLevel{*params.noise, "given"} : defaultNoise(model, subjects);
    CausalTraceParams p = params;
    p.noise = avg.noise.sigma;
    const int nLayers = model.config.nLayers;
    const long nFacts = long(facts.size());
    // Indirect effects are averaged per fact (restored minus that fact's corrupted
    // probability): categories are filled by different subsets of facts, so
    // subtracting the overall mean corrupted probability would bias them.
    TraceSums t;
    for (TraceKind k : params.kinds) t.sums[k] = t.effectSums[k] = MatrixD::Zero(6, nLayers);

    cluster::ShardJob job;
    job.stage = "facts";
    job.shards = cluster::shardCount(nFacts, kFactsPerShard);
    const auto firstFact = [](int shard) { return long(shard) * kFactsPerShard; };
    job.units = [&](int shard) { return std::min<long>(kFactsPerShard, nFacts - firstFact(shard)); };
    job.compute = [&](int shard) {
        cluster::ByteWriter w;
        for (long i = firstFact(shard); i < firstFact(shard) + job.units(shard); ++i) {
            const auto& f = facts[size_t(i)];
            putTrace(w, traceFact(model, f.prompt, f.subject, f.attribute, p), params.kinds);
        }
        return w.take();
    };
    job.consume = [&](int shard, std::string_view bytes) {
        cluster::ByteReader in(bytes, "shard " + std::to_string(shard) + " of the traced facts");
        for (long i = 0; i < job.units(shard); ++i)
            addFact(getTrace(in, params.kinds), params, skipWrong, nLayers, avg, t);
    };
    // The job: the model file, every fact's text, the options (noise included).
    cluster::ByteWriter factText;
    for (const auto& f : facts) {
        factText.put(f.prompt);
        factText.put(f.subject);
        factText.put(f.attribute);
    }
    AverageTraceResult described;
    described.params = params;
    described.noise = avg.noise;
    const nlohmann::json identity = {{"job", "trace facts"},
                                     {"model", cluster::fileIdentity(model.path)},
                                     {"facts", nFacts},
                                     {"facts_hash", cluster::hashBytes(factText.bytes())},
                                     {"skip_wrong", skipWrong},
                                     {"params", toJson(described)["params"]},
                                     {"facts_per_shard", kFactsPerShard}};
    cluster::runShards(run.communicator(), job, progress, {run.checkpoint, identity});
    if (!run.communicator().isRoot()) return {};

    if (avg.factsUsed == 0) throw InvalidInput("the model predicts none of the facts correctly; nothing to average");
    avg.meanProbClean /= avg.factsUsed;
    avg.meanProbCorrupted /= avg.factsUsed;
    for (TraceKind k : params.kinds) {
        MatrixD m = t.sums[k], e = t.effectSums[k];
        for (int cat = 0; cat < 6; ++cat) {
            m.row(cat) /= std::max<long>(t.counts[cat], 1);
            e.row(cat) /= std::max<long>(t.counts[cat], 1);
        }
        avg.probRestored[k] = m;
        avg.indirectEffect[k] = e;
    }
    return avg;
}

}  // namespace mwb
