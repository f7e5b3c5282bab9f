#include "editing/knowledge_eval.h"

#include <algorithm>
#include <map>

#include "cluster/bytes.h"
#include "tokenizer/continuation.h"
#include "tensor/errors.h"
#include "tensor/parallel.h"
#include "model/transformer.h"

namespace mwb {

namespace {

constexpr int kChunk = 32;  // prompts per batched run: bounds the memory of cached states

int argmax(const Eigen::Ref<const RowVector>& logits) {
    Eigen::Index best = 0;
    logits.maxCoeff(&best);
    return int(best);
}

}  // namespace

KnowledgeAccuracy evaluateKnowledge(const Model& model, const std::vector<KnownFact>& facts,
                                    const ProgressFn& progress, const cluster::ShardRun& run) {
    if (facts.empty()) throw InvalidInput("there are no facts to evaluate");
    const Transformer transformer(model, nullptr, WeightPacking::Once);
    const Tokenizer& tokenizer = model.tokenizer;
    const int n = int(facts.size());
    KnowledgeAccuracy out;
    out.facts = n;
    out.predictions.resize(n);
    std::vector<std::vector<int>> promptIds(n);
    for (int i = 0; i < n; ++i) {
        FactPrediction& p = out.predictions[i];
        p.knownId = facts[i].knownId;
        p.prompt = facts[i].prompt;
        p.attribute = facts[i].attribute;
        promptIds[i] = tokenizer.encodeIds(p.prompt);
        p.attributeIds = continuationIds(tokenizer, p.prompt, p.attribute);
        if (promptIds[i].empty()) throw InvalidInput("fact " + std::to_string(p.knownId) + " has an empty prompt");
        if (promptIds[i].size() + p.attributeIds.size() - 1 > size_t(model.config.nCtx))
            throw InvalidInput("fact " + std::to_string(p.knownId) + ": the prompt " + quote(p.prompt) +
                               " with its attribute is longer than the model's context of " +
                               std::to_string(model.config.nCtx) + " tokens");
    }
    // A shard is one batch of kChunk prompts, so that every prompt runs in the same batch
    // (and gives the same bits) whatever the number of ranks.
    const auto evaluateBatch = [&](int first) {
        const int count = std::min(kChunk, n - first);
        const std::vector<std::vector<int>> batch(promptIds.begin() + first, promptIds.begin() + first + count);
        std::vector<RunState> states = transformer.runBatch(batch, {}, LogitsMode::Last);
        parallelFor(count, [&](int j) {
            FactPrediction& p = out.predictions[first + j];
            const RowVector logits = states[j].lastLogits();
            p.predictedId = argmax(logits);
            p.predicted = tokenizer.tokenDisplay(p.predictedId);
            p.probAttribute = softmax(logits)[p.attributeIds[0]];
            p.firstTokenCorrect = p.predictedId == p.attributeIds[0];
            p.matchedTokens = p.firstTokenCorrect ? 1 : 0;
            if (p.firstTokenCorrect && p.attributeIds.size() > 1) {
                // Teacher forcing over the attribute: the argmax after each prefix.
                RunState& s = states[j];
                transformer.extend(s, std::vector<int>(p.attributeIds.begin(), p.attributeIds.end() - 1), {},
                                   LogitsMode::All);
                while (p.matchedTokens < int(p.attributeIds.size()) &&
                       argmax(s.logits.row(p.matchedTokens - 1)) == p.attributeIds[p.matchedTokens])
                    ++p.matchedTokens;
            }
            p.attributeCorrect = p.matchedTokens == int(p.attributeIds.size());
        });
    };
    cluster::ShardJob job;
    job.stage = "evaluate facts";
    job.shards = cluster::shardCount(n, kChunk);
    job.units = [&](int shard) { return long(std::min(kChunk, n - shard * kChunk)); };
    job.compute = [&](int shard) {
        evaluateBatch(shard * kChunk);
        cluster::ByteWriter w;
        for (int i = shard * kChunk; i < shard * kChunk + job.units(shard); ++i) {
            const FactPrediction& p = out.predictions[i];
            w.put<int32_t>(p.predictedId);
            w.put(p.predicted);
            w.put(p.probAttribute);
            w.put<int32_t>(p.matchedTokens);
            w.put<uint8_t>(p.firstTokenCorrect);
            w.put<uint8_t>(p.attributeCorrect);
        }
        return w.take();
    };
    job.consume = [&](int shard, std::string_view bytes) {
        cluster::ByteReader in(bytes, "shard " + std::to_string(shard) + " of the evaluated facts");
        for (int i = shard * kChunk; i < shard * kChunk + job.units(shard); ++i) {
            FactPrediction& p = out.predictions[i];
            p.predictedId = in.get<int32_t>();
            p.predicted = in.getString();
            p.probAttribute = in.get<double>();
            p.matchedTokens = in.get<int32_t>();
            p.firstTokenCorrect = in.get<uint8_t>() != 0;
            p.attributeCorrect = in.get<uint8_t>() != 0;
        }
    };
    cluster::ByteWriter factText;
    for (const FactPrediction& p : out.predictions) {
        factText.put(p.prompt);
        factText.put(p.attribute);
    }
    const nlohmann::json identity = {{"job", "evaluate knowledge"},
                                     {"model", cluster::fileIdentity(model.path)},
                                     {"facts", n},
                                     {"facts_hash", cluster::hashBytes(factText.bytes())},
                                     {"facts_per_shard", kChunk}};
    cluster::runShards(run.communicator(), job, progress, {run.checkpoint, identity});
    if (!run.communicator().isRoot()) return {};
    int firstCorrect = 0, attributeCorrect = 0;
    for (const FactPrediction& p : out.predictions) {
        firstCorrect += p.firstTokenCorrect;
        attributeCorrect += p.attributeCorrect;
    }
    out.firstTokenAccuracy = 100.0 * firstCorrect / n;
    out.attributeAccuracy = 100.0 * attributeCorrect / n;
    return out;
}

TemplateBreakdown accuracyByTemplate(const std::vector<KnownFact>& facts, const KnowledgeAccuracy& k) {
    if (facts.size() != k.predictions.size())
        throw InvalidInput("accuracy by template: " + std::to_string(facts.size()) + " facts but " +
                           std::to_string(k.predictions.size()) + " predictions");
    std::map<std::string, TemplateAccuracy> byTemplate;
    for (size_t i = 0; i < facts.size(); ++i) {
        TemplateAccuracy& t = byTemplate[facts[i].templ];
        t.templ = facts[i].templ;
        t.relationId = facts[i].relationId;
        ++t.facts;
        t.firstTokenAccuracy += k.predictions[i].firstTokenCorrect;
        t.attributeAccuracy += k.predictions[i].attributeCorrect;
    }
    TemplateBreakdown b;
    for (auto& [templ, t] : byTemplate) {
        t.firstTokenAccuracy *= 100.0 / t.facts;
        t.attributeAccuracy *= 100.0 / t.facts;
        b.meanFirstTokenAccuracy += t.firstTokenAccuracy / double(byTemplate.size());
        b.meanAttributeAccuracy += t.attributeAccuracy / double(byTemplate.size());
        b.templates.push_back(std::move(t));
    }
    std::stable_sort(b.templates.begin(), b.templates.end(), [](const auto& x, const auto& y) {
        return x.firstTokenAccuracy < y.firstTokenAccuracy;
    });
    return b;
}

nlohmann::json toJson(const KnowledgeAccuracy& k) {
    nlohmann::json predictions = nlohmann::json::array();
    for (const FactPrediction& p : k.predictions)
        predictions.push_back({{"known_id", p.knownId},
                               {"prompt", p.prompt},
                               {"attribute", p.attribute},
                               {"predicted", p.predicted},
                               {"prob_attribute", p.probAttribute},
                               {"first_token_correct", p.firstTokenCorrect},
                               {"attribute_correct", p.attributeCorrect},
                               {"matched_tokens", p.matchedTokens}});
    return {{"facts", k.facts},
            {"first_token_accuracy", k.firstTokenAccuracy},
            {"attribute_accuracy", k.attributeAccuracy},
            {"predictions", predictions}};
}

nlohmann::json toJson(const TemplateBreakdown& b) {
    nlohmann::json templates = nlohmann::json::array();
    for (const TemplateAccuracy& t : b.templates)
        templates.push_back({{"template", t.templ},
                             {"relation_id", t.relationId},
                             {"facts", t.facts},
                             {"first_token_accuracy", t.firstTokenAccuracy},
                             {"attribute_accuracy", t.attributeAccuracy}});
    return {{"mean_first_token_accuracy", b.meanFirstTokenAccuracy},
            {"mean_attribute_accuracy", b.meanAttributeAccuracy},
            {"templates", templates}};
}

}  // namespace mwb
