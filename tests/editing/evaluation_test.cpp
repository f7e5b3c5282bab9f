// CounterFact metrics and knowledge accuracy, checked against independent
// computations with Transformer::run and hand-computed values.
#include <gtest/gtest.h>

#include <cmath>

#include "editing/evaluation.h"
#include "editing/knowledge_eval.h"
#include "editing/ngram_entropy.h"
#include "tokenizer/continuation.h"
#include "tensor/errors.h"
#include "model/generate.h"
#include "io/hdf5_model_file.h"

namespace mwb {
namespace {

const std::string kFixtures = std::string(MWB_SOURCE_DIR) + "/tests/fixtures/";

// The fixtures' tokenizer has one token per byte and a context of 24 tokens.
const Model& fixture() {
    static const Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    return m;
}

// Mean NLL of `target` after `prompt` from one full forward pass over prompt + target.
double referenceNll(const Model& m, const std::string& prompt, const std::string& target) {
    const Transformer t(m);
    const std::vector<int> p = m.tokenizer.encodeIds(prompt);
    const std::vector<int> target_ids = continuationIds(m.tokenizer, prompt, target);
    std::vector<int> all = p;
    all.insert(all.end(), target_ids.begin(), target_ids.end());
    const RunState s = t.run(all, {}, LogitsMode::All);
    double nll = 0.0;
    for (size_t j = 0; j < target_ids.size(); ++j) {
        const Vector probs = softmax(s.logits.row(long(p.size() + j) - 1 - s.logitsFirstPos));
        nll -= std::log(double(probs[target_ids[j]]));
    }
    return nll / double(target_ids.size());
}

CounterFactCase smallCase() {
    CounterFactCase c;
    c.caseId = 7;
    c.prompt = "{} sat on a";
    c.subject = "The cat";
    c.targetNew = "rug";
    c.targetTrue = "mat";
    c.paraphrasePrompts = {"A cat sat on a", "Cats sit on"};
    c.neighborhoodPrompts = {"The dog sat on a", "A dog lay on", "Dogs sit on"};
    c.generationPrompts = {"The cat is", "A cat"};
    return c;
}

TEST(Evaluation, TargetNllsMatchFullForwardPasses) {
    const Model& m = fixture();
    const Transformer t(m);
    const std::vector<std::string> prompts = {"The cat sat on a", "A dog", "Hi"};
    const auto nlls = targetNlls(t, prompts, "mat", "x");
    ASSERT_EQ(nlls.size(), 3u);
    for (size_t i = 0; i < prompts.size(); ++i) {
        EXPECT_NEAR(nlls[i].first, referenceNll(m, prompts[i], "mat"), 1e-4) << prompts[i];
        EXPECT_NEAR(nlls[i].second, referenceNll(m, prompts[i], "x"), 1e-4) << prompts[i];
    }
}

TEST(Evaluation, CaseMetricsFollowTheDefinitions) {
    const Model& m = fixture();
    const CounterFactCase c = smallCase();
    EvalOptions o;
    o.fluency = false;
    const CaseMetrics r = evaluateCase(m, c, o);
    ASSERT_EQ(r.rewrite.size(), 1u);
    ASSERT_EQ(r.paraphrase.size(), 2u);
    ASSERT_EQ(r.neighborhood.size(), 3u);
    EXPECT_EQ(r.rewrite[0].prompt, "The cat sat on a");

    auto nll = [&](const std::string& p, const std::string& target) { return referenceNll(m, p, target); };
    const double newR = nll("The cat sat on a", "rug"), trueR = nll("The cat sat on a", "mat");
    EXPECT_NEAR(r.rewrite[0].nllNew, newR, 1e-4);
    EXPECT_NEAR(r.rewrite[0].nllTrue, trueR, 1e-4);
    EXPECT_EQ(r.efficacy, newR < trueR ? 1.0 : 0.0);
    EXPECT_NEAR(r.efficacyMagnitude, std::exp(-newR) - std::exp(-trueR), 1e-5);

    double para = 0.0, paraMag = 0.0;
    for (const std::string& p : c.paraphrasePrompts) {
        para += nll(p, "rug") < nll(p, "mat");
        paraMag += std::exp(-nll(p, "rug")) - std::exp(-nll(p, "mat"));
    }
    EXPECT_DOUBLE_EQ(r.paraphraseSuccess, para / 2);
    EXPECT_NEAR(r.paraphraseMagnitude, paraMag / 2, 1e-5);

    double neigh = 0.0, neighMag = 0.0;
    for (const std::string& p : c.neighborhoodPrompts) {
        neigh += nll(p, "mat") < nll(p, "rug");
        neighMag += std::exp(-nll(p, "mat")) - std::exp(-nll(p, "rug"));
    }
    EXPECT_DOUBLE_EQ(r.neighborhoodSuccess, neigh / 3);
    EXPECT_NEAR(r.neighborhoodMagnitude, neighMag / 3, 1e-5);
    EXPECT_TRUE(std::isnan(r.fluency));
}

TEST(Evaluation, FluencyIsTheEntropyOfTheGenerations) {
    const Model& m = fixture();
    CounterFactCase c = smallCase();
    EvalOptions o;
    o.topK = 0;  // greedy: compare with generate()
    const CaseMetrics r = evaluateCase(m, c, o);
    ASSERT_EQ(r.generations.size(), 2u);
    const Transformer t(m);
    double sum = 0.0;
    for (size_t i = 0; i < 2; ++i) {
        GenerateOptions g;
        g.maxNewTokens = 100;
        g.stopAtEos = false;
        const auto ids = m.tokenizer.encodeIds(c.generationPrompts[i]);
        const Generation gen = generate(t, ids, g);
        std::vector<int> all = ids;
        for (int id : gen.newIds)
            if (id != m.tokenizer.spec().eosId) all.push_back(id);
        EXPECT_EQ(r.generations[i], m.tokenizer.decode(all));
        sum += textEntropy(r.generations[i]);
    }
    EXPECT_NEAR(r.fluency, sum / 2, 1e-12);

    // Sampling (the reference's top-5) is reproducible.
    o.topK = 5;
    o.maxGenerationPrompts = 1;
    const CaseMetrics s1 = evaluateCase(m, c, o), s2 = evaluateCase(m, c, o);
    ASSERT_EQ(s1.generations.size(), 1u);
    EXPECT_EQ(s1.generations, s2.generations);
}

TEST(Evaluation, BadInputIsRefused) {
    const Model& m = fixture();
    CounterFactCase c = smallCase();
    c.targetNew = "";
    EXPECT_THROW(evaluateCase(m, c), InvalidInput);
    c = smallCase();
    c.paraphrasePrompts = {"This prompt is far longer than the context"};
    EXPECT_THROW(evaluateCase(m, c), InvalidInput);
}

TEST(Evaluation, NeighboursEditedInTheSameRunAreLeftOut) {
    auto makeCase = [](const std::string& relation, const std::string& prompt, const std::string& subject,
                       std::vector<std::string> neighbours) {
        CounterFactCase c;
        c.relationId = relation;
        c.prompt = prompt;
        c.subject = subject;
        c.neighborhoodPrompts = std::move(neighbours);
        return c;
    };
    const std::vector<CounterFactCase> run = {
        makeCase("P1", "{} is in", "Paris", {"Lyon is in", "Lyonnais food is in", "Nice is in", "The city of Lyon is in"}),
        makeCase("P1", "{} lies in", "Lyon", {"Paris lies in", "Nice lies in"}),
        makeCase("P2", "{} is the capital of", "Nice", {"Paris is the capital of", "Lyon is the capital of"}),
    };
    int dropped = 0;
    const auto kept = withoutEditedNeighbours(run, &dropped);
    // Lyon and Paris are edited in P1 (whole words only, any template); Nice only in P2.
    EXPECT_EQ(kept[0].neighborhoodPrompts, (std::vector<std::string>{"Lyonnais food is in", "Nice is in"}));
    EXPECT_EQ(kept[1].neighborhoodPrompts, (std::vector<std::string>{"Nice lies in"}));
    EXPECT_EQ(kept[2].neighborhoodPrompts, run[2].neighborhoodPrompts);
    EXPECT_EQ(dropped, 3);
    // A single edit drops nothing.
    EXPECT_EQ(withoutEditedNeighbours({run[0]})[0].neighborhoodPrompts, run[0].neighborhoodPrompts);
    // Without relation ids, the same prompt template is the same relation.
    std::vector<CounterFactCase> noIds = run;
    for (auto& c : noIds) c.relationId.clear();
    dropped = 0;
    withoutEditedNeighbours(noIds, &dropped);
    EXPECT_EQ(dropped, 0);  // every case has its own template
    noIds[1].prompt = noIds[0].prompt;
    EXPECT_EQ(withoutEditedNeighbours(noIds)[0].neighborhoodPrompts,
              (std::vector<std::string>{"Lyonnais food is in", "Nice is in"}));
}

TEST(Evaluation, AggregateAndScore) {
    std::vector<CaseMetrics> cases(2);
    cases[0].efficacy = 1.0;
    cases[0].paraphraseSuccess = 0.5;
    cases[0].neighborhoodSuccess = 1.0;
    cases[0].fluency = 6.0;
    cases[1].efficacy = 0.0;
    cases[1].paraphraseSuccess = kNaN;  // no paraphrase prompts: left out
    cases[1].neighborhoodSuccess = 0.5;
    cases[1].fluency = 5.0;
    const Metrics m = aggregate(cases);
    EXPECT_EQ(m.cases, 2);
    EXPECT_DOUBLE_EQ(m.efficacy.mean, 50.0);
    EXPECT_DOUBLE_EQ(m.efficacy.std, 50.0);
    EXPECT_DOUBLE_EQ(m.paraphrase.mean, 50.0);
    EXPECT_EQ(m.paraphrase.count, 1);
    EXPECT_DOUBLE_EQ(m.neighborhood.mean, 75.0);
    EXPECT_DOUBLE_EQ(m.fluency.mean, 5.5);
    EXPECT_NEAR(m.score, 3.0 / (1.0 / 50 + 1.0 / 50 + 1.0 / 75), 1e-12);
    const auto j = toJson(m);
    EXPECT_DOUBLE_EQ(j["efficacy"].get<double>(), 50.0);
    EXPECT_DOUBLE_EQ(j["fluency"].get<double>(), 5.5);
    EXPECT_TRUE(j["efficacy_magnitude"].is_null());

    EXPECT_NEAR(harmonicMean({1, 2, 4}), 12.0 / 7.0, 1e-12);
    EXPECT_EQ(harmonicMean({0, 2, 4}), 0.0);
    EXPECT_TRUE(std::isnan(harmonicMean({})));
}

TEST(NGramEntropy, HandComputed) {
    const std::vector<std::string> t = {"a", "b", "a", "b", "a"};
    // bigrams ab, ba, ab, ba: two equally frequent -> 1 bit.
    EXPECT_NEAR(nGramEntropy(t, 2), 1.0, 1e-12);
    // trigrams aba, bab, aba: frequencies 2/3, 1/3.
    const double h3 = -(2.0 / 3 * std::log2(2.0 / 3) + 1.0 / 3 * std::log2(1.0 / 3));
    EXPECT_NEAR(nGramEntropy(t, 3), h3, 1e-12);
    EXPECT_NEAR(weightedNGramEntropy(t), (2.0 / 3 * 1.0 + 4.0 / 3 * h3) / 2, 1e-12);
    EXPECT_EQ(nGramEntropy({"x"}, 2), 0.0);
    // Eight distinct words: log2(7) and log2(6) bits.
    const std::vector<std::string> distinct = {"1", "2", "3", "4", "5", "6", "7", "8"};
    EXPECT_NEAR(weightedNGramEntropy(distinct), (2.0 / 3 * std::log2(7.0) + 4.0 / 3 * std::log2(6.0)) / 2, 1e-12);
}

TEST(NGramEntropy, WordTokensFollowTreebankRules) {
    const auto t = wordTokens("He said, \"It's 1,000 dollars...\" I don't (really) know U.S. law.");
    const std::vector<std::string> expected = {"He",   "said", ",",      "\"",  "It", "'s",   "1,000", "dollars",
                                               "...",  "\"",   "I",      "do",  "n't", "(",   "really", ")",
                                               "know", "U.S",  ".",      "law", "."};
    EXPECT_EQ(t, expected);
    EXPECT_EQ(asciiOnly("caf\xC3\xA9 ok"), "caf ok");
    EXPECT_NEAR(textEntropy("a b a b a"), weightedNGramEntropy({"a", "b", "a", "b", "a"}), 1e-12);
}

TEST(KnowledgeAccuracy, MatchesArgmaxAndGreedyDecoding) {
    const Model& m = fixture();
    const Transformer t(m);
    // A fact whose attribute is the model's own greedy continuation (the prompt ends
    // with a space, so the attribute's tokens follow it directly).
    const std::string prompt = "The cat sat on ";
    GenerateOptions g;
    g.maxNewTokens = 3;
    g.stopAtEos = false;
    const auto ids = m.tokenizer.encodeIds(prompt);
    const Generation gen = generate(t, ids, g);
    const std::string own = m.tokenizer.decode(gen.newIds);
    ASSERT_EQ(continuationIds(m.tokenizer, prompt, own), gen.newIds) << "greedy tokens must round-trip";

    std::vector<KnownFact> facts(3);
    facts[0] = {0, "cat", own, "", prompt, ""};
    const std::string firstToken = m.tokenizer.decode({gen.newIds[0]});
    facts[1] = {1, "cat", firstToken + "\x01\x02", "", prompt, ""};  // first token right only
    facts[2] = {2, "dog", "zzz", "", "A dog sat on", ""};
    const KnowledgeAccuracy k = evaluateKnowledge(m, facts);
    ASSERT_EQ(k.predictions.size(), 3u);
    EXPECT_TRUE(k.predictions[0].firstTokenCorrect);
    EXPECT_TRUE(k.predictions[0].attributeCorrect);
    EXPECT_EQ(k.predictions[0].matchedTokens, 3);
    EXPECT_TRUE(k.predictions[1].firstTokenCorrect);
    EXPECT_FALSE(k.predictions[1].attributeCorrect);
    EXPECT_EQ(k.predictions[1].matchedTokens, 1);

    const RunState s = t.run(m.tokenizer.encodeIds("A dog sat on"));
    Eigen::Index best;
    s.lastLogits().maxCoeff(&best);
    const int first = continuationIds(m.tokenizer, "A dog sat on", "zzz")[0];
    EXPECT_EQ(k.predictions[2].firstTokenCorrect, best == first);
    EXPECT_EQ(k.predictions[2].predictedId, int(best));
    EXPECT_NEAR(k.predictions[2].probAttribute, softmax(s.lastLogits())[first], 1e-6);
    const double expectedFirst = 100.0 * (2 + (best == first)) / 3;
    EXPECT_NEAR(k.firstTokenAccuracy, expectedFirst, 1e-9);
    EXPECT_THROW(evaluateKnowledge(m, {}), InvalidInput);
}

TEST(KnowledgeAccuracy, ByTemplateIsWorstFirstWithAnUnweightedMean) {
    std::vector<KnownFact> facts(4);
    facts[0].templ = facts[1].templ = facts[2].templ = "{} is in";
    facts[0].relationId = facts[1].relationId = facts[2].relationId = "P17";
    facts[3].templ = "{} lies in";
    facts[3].relationId = "P17";
    KnowledgeAccuracy k;
    k.predictions.resize(4);
    k.predictions[0].firstTokenCorrect = k.predictions[0].attributeCorrect = true;
    k.predictions[1].firstTokenCorrect = true;
    const TemplateBreakdown b = accuracyByTemplate(facts, k);
    ASSERT_EQ(b.templates.size(), 2u);
    EXPECT_EQ(b.templates[0].templ, "{} lies in");
    EXPECT_EQ(b.templates[0].facts, 1);
    EXPECT_EQ(b.templates[0].firstTokenAccuracy, 0.0);
    EXPECT_EQ(b.templates[1].templ, "{} is in");
    EXPECT_EQ(b.templates[1].relationId, "P17");
    EXPECT_EQ(b.templates[1].facts, 3);
    EXPECT_NEAR(b.templates[1].firstTokenAccuracy, 200.0 / 3, 1e-12);
    EXPECT_NEAR(b.templates[1].attributeAccuracy, 100.0 / 3, 1e-12);
    // 2 of 4 facts overall (50 %), but the mean over the two templates is 33.3 %.
    EXPECT_NEAR(b.meanFirstTokenAccuracy, 100.0 / 3, 1e-12);
    EXPECT_NEAR(b.meanAttributeAccuracy, 50.0 / 3, 1e-12);
    k.predictions.pop_back();
    EXPECT_THROW(accuracyByTemplate(facts, k), InvalidInput);
}

}  // namespace
}  // namespace mwb
