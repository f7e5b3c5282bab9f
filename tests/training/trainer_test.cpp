// Training: the loss falls, runs are bit-identical for a seed, resuming from a
// checkpoint (after a kill or a cancel) gives exactly the uninterrupted result, and
// the optimiser pieces and the configuration behave as documented.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "tensor/errors.h"
#include "io/hdf5_model_file.h"
#include "training/optimizer.h"
#include "model/random_init.h"
#include "training/trainer.h"

namespace mwb {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class TempDir {
public:
    TempDir() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        m_path = fs::temp_directory_path() /
                 ("mwb_trainer_" + std::to_string(getpid()) + "_" + info->name());
        fs::remove_all(m_path);
        fs::create_directories(m_path);
    }
    ~TempDir() { fs::remove_all(m_path); }
    const fs::path& path() const { return m_path; }

private:
    fs::path m_path;
};

ModelConfig tinyShape(Architecture arch = Architecture::Gpt2) {
    ModelConfig c;
    c.architecture = arch;
    c.nLayers = 2;
    c.nHeads = 2;
    c.nKvHeads = arch == Architecture::Llama ? 1 : 2;
    c.dModel = 32;
    c.dFf = 64;
    c.vocabSize = 300;  // the smallest defaultTokenizer
    c.nCtx = 32;
    c.activation = arch == Architecture::Llama ? Activation::Silu : Activation::GeluTanh;
    c.tieEmbeddings = arch == Architecture::Gpt2;
    return c;
}

// A first-order Markov chain in which every token has two equally likely successors:
// the best achievable loss is ln 2 ≈ 0.69, a fresh model starts near ln 300 ≈ 5.7.
std::vector<int> markovStream(int vocab, int n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::array<int, 2>> next(vocab);
    for (auto& s : next) s = {int(rng() % vocab), int(rng() % vocab)};
    std::vector<int> out(n);
    int cur = 0;
    for (int& t : out) t = cur = next[cur][rng() % 2];
    return out;
}

TrainConfig tinyTrainConfig(const fs::path& dir, Architecture arch = Architecture::Gpt2) {
    TrainConfig t;
    t.model = tinyShape(arch);
    t.seqLen = 16;
    t.batchSize = 8;
    t.steps = 40;
    t.lr = 1e-2;
    t.minLr = 1e-3;
    t.warmup = 5;
    t.weightDecay = 0.01;
    t.seed = 42;
    t.out = dir / "out.h5";
    t.checkpoint = dir / "run.ckpt";
    t.evalBatches = 2;
    return t;
}

Model tinyModel(const TrainConfig& t) {
    Model m;
    m.config = t.model;
    m.weights = randomWeights(m.config, t.seed);
    m.tokenizer = Tokenizer(defaultTokenizer(m.config.architecture, m.config.vocabSize));
    return m;
}

void expectSameWeights(const Model& a, const Model& b) {
    std::vector<std::pair<std::string, Matrix>> ta;
    forEachTensor(a.config, a.weights, [&](const std::string& p, const auto& t) {
        ta.push_back({p, Eigen::Map<const Matrix>(t.data(), t.rows(), t.cols())});
    });
    size_t i = 0;
    forEachTensor(b.config, b.weights, [&](const std::string& p, const auto& t) {
        ASSERT_LT(i, ta.size());
        EXPECT_EQ(ta[i].first, p);
        EXPECT_TRUE(ta[i].second == Eigen::Map<const Matrix>(t.data(), t.rows(), t.cols()))
            << p << " differs";
        ++i;
    });
}

TEST(Trainer, LossFallsWellBelowItsStart) {
    TempDir dir;
    TrainConfig t = tinyTrainConfig(dir.path());
    t.steps = 300;
    t.lr = 3e-3;
    t.minLr = 3e-4;
    t.warmup = 20;
    const auto stream = markovStream(t.model.vocabSize, 20000, 1);
    Trainer trainer(t, tinyModel(t), {stream.begin(), stream.end() - 2000},
                    {stream.end() - 2000, stream.end()});
    const double evalBefore = trainer.evalLoss();
    const double first = trainer.step().loss;
    double last = 0;
    for (int i = 1; i < t.steps; ++i) last = trainer.step().loss;
    const double evalAfter = trainer.evalLoss();
    EXPECT_NEAR(first, std::log(300.0), 0.3);
    EXPECT_LT(last, 0.45 * first) << "first " << first << ", last " << last;
    EXPECT_LT(evalAfter, 0.45 * evalBefore) << "before " << evalBefore << ", after " << evalAfter;
    EXPECT_GT(evalAfter, std::log(2.0) - 0.05);  // cannot beat the chain's entropy
}

TEST(Trainer, SameSeedGivesBitIdenticalRunsAndAnotherSeedDoesNot) {
    TempDir dir;
    for (Architecture arch : {Architecture::Gpt2, Architecture::Llama}) {
        const TrainConfig t = tinyTrainConfig(dir.path(), arch);
        const auto stream = markovStream(t.model.vocabSize, 5000, 2);
        Trainer a(t, tinyModel(t), stream, {});
        Trainer b(t, tinyModel(t), stream, {});
        std::vector<double> lossA, lossB;
        for (int i = 0; i < t.steps; ++i) {
            lossA.push_back(a.step().loss);
            lossB.push_back(b.step().loss);
        }
        EXPECT_EQ(lossA, lossB);
        expectSameWeights(a.model(), b.model());

        TrainConfig other = t;
        other.seed = 43;
        Trainer c(other, tinyModel(t), stream, {});
        c.step();
        EXPECT_NE(c.model().weights.blocks[0].q.weight, a.model().weights.blocks[0].q.weight);
    }
}

struct Killed {};

TEST(Trainer, ResumeAfterKillOrCancelEqualsUninterruptedRun) {
    TempDir dir;
    TrainConfig t = tinyTrainConfig(dir.path());
    t.evalEvery = 10;
    const auto stream = markovStream(t.model.vocabSize, 6000, 3);
    const std::vector<int> train(stream.begin(), stream.end() - 1000);
    const std::vector<int> eval(stream.end() - 1000, stream.end());

    Trainer whole(t, tinyModel(t), train, eval);
    whole.run({});
    ASSERT_EQ(whole.stepsDone(), t.steps);

    // Killed at step 23 (no chance to save): resume from the checkpoint of step 15.
    TrainConfig periodic = t;
    periodic.checkpointEvery = 15;
    {
        Trainer first(periodic, tinyModel(t), train, eval);
        TrainCallbacks cb;
        cb.progress = [](const Progress& p) {
            if (p.done == 23) throw Killed{};
            return true;
        };
        EXPECT_THROW(first.run(cb), Killed);
    }
    Trainer resumed(periodic, tinyModel(t), train, eval);
    const auto notes = resumed.loadCheckpoint();
    ASSERT_FALSE(notes.empty());
    EXPECT_NE(notes[0].find("step 15"), std::string::npos) << notes[0];
    EXPECT_EQ(resumed.stepsDone(), 15);
    resumed.run({});
    expectSameWeights(whole.model(), resumed.model());

    // Cancelled at step 31: a checkpoint of step 31 is written before Cancelled.
    {
        Trainer first(t, tinyModel(t), train, eval);
        TrainCallbacks cb;
        cb.progress = [](const Progress& p) { return p.done < 31; };
        EXPECT_THROW(first.run(cb), Cancelled);
    }
    Trainer afterCancel(t, tinyModel(t), train, eval);
    afterCancel.loadCheckpoint();
    EXPECT_EQ(afterCancel.stepsDone(), 31);
    afterCancel.run({});
    expectSameWeights(whole.model(), afterCancel.model());
    // The checkpoint's model file is a normal model file.
    const Model saved = loadModel(Trainer::checkpointModelPath(t));
    expectSameWeights(whole.model(), saved);
}

TEST(Trainer, StopAtEndsMidScheduleAndTheRestContinuesLikeTheWholeRun) {
    TempDir dir;
    const TrainConfig t = tinyTrainConfig(dir.path());
    const auto stream = markovStream(t.model.vocabSize, 5000, 5);
    Trainer whole(t, tinyModel(t), stream, {});
    whole.run({});

    TrainConfig first = t;
    first.stopAt = 23;
    Trainer stopped(first, tinyModel(t), stream, {});
    int lastReported = 0, reportedTotal = 0;
    TrainCallbacks cb;
    cb.onStatus = [&](const TrainStatus& s) {
        lastReported = s.step;
        reportedTotal = s.totalSteps;
    };
    stopped.run(cb);
    EXPECT_EQ(stopped.stepsDone(), 23);
    EXPECT_EQ(lastReported, 23);
    EXPECT_EQ(reportedTotal, 23);
    EXPECT_FALSE(stopped.model().weights.blocks[0].q.weight ==
                 whole.model().weights.blocks[0].q.weight);

    // The schedule spans all 40 steps, so continuing to the end gives the whole run.
    Trainer rest(t, tinyModel(t), stream, {});
    rest.loadCheckpoint();
    EXPECT_EQ(rest.stepsDone(), 23);
    rest.run({});
    expectSameWeights(whole.model(), rest.model());
}

TEST(Trainer, CorruptOrMismatchedCheckpointIsRefused) {
    TempDir dir;
    const TrainConfig t = tinyTrainConfig(dir.path());
    const auto stream = markovStream(t.model.vocabSize, 3000, 4);
    Trainer a(t, tinyModel(t), stream, {});
    EXPECT_THROW(a.loadCheckpoint(), InvalidInput);  // none yet
    a.step();
    a.saveCheckpoint();
    const fs::path state = Trainer::checkpointStatePath(t);
    {
        std::fstream f(state, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(100);
        f.put('\x7f');
    }
    Trainer b(t, tinyModel(t), stream, {});
    EXPECT_THROW(b.loadCheckpoint(), InvalidInput);
    EXPECT_EQ(b.stepsDone(), 0);

    a.saveCheckpoint();
    TrainConfig wider = t;
    wider.model.dFf = 96;
    Trainer c(wider, tinyModel(wider), stream, {});
    EXPECT_THROW(c.loadCheckpoint(), InvalidInput);
}

// Version 2 checkpoints record the subject routing; resuming under another routing, or
// from a version-1 file that does not record it, says so (and still resumes).
TEST(Trainer, ResumeNotesAChangedOrUnrecordedSubjectRouting) {
    TempDir dir;
    const TrainConfig t = tinyTrainConfig(dir.path());
    const auto stream = markovStream(t.model.vocabSize, 3000, 6);
    const std::vector<SubjectMention> mentions = {{3, 6}, {40, 42}};
    Trainer a(t, tinyModel(t), stream, {});
    a.routeSubjects(mentions);
    a.step();
    a.saveCheckpoint();
    auto notesOf = [&](std::vector<SubjectMention> routed, const TrainConfig& config) {
        Trainer b(config, tinyModel(t), stream, {});
        b.routeSubjects(std::move(routed));
        std::string all;
        for (const std::string& n : b.loadCheckpoint()) all += n + "\n";
        EXPECT_EQ(b.stepsDone(), 1);
        return all;
    };
    EXPECT_EQ(notesOf(mentions, t).find("routing"), std::string::npos);
    EXPECT_NE(notesOf({{3, 6}}, t).find("subject routing"), std::string::npos);
    TrainConfig hidden = t;
    hidden.routeHiddenLayers = 1;
    EXPECT_NE(notesOf(mentions, hidden).find("subject routing"), std::string::npos);

    // The same state as version 1: without the routing hash (bytes 40-47), checksum redone.
    const fs::path file = Trainer::checkpointStatePath(t);
    std::string bytes;
    {
        std::ifstream in(file, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    bytes.erase(40, 8);
    bytes[8] = 1;  // u32 version, little-endian
    bytes.resize(bytes.size() - 8);
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
    bytes.append(reinterpret_cast<const char*>(&h), 8);
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
    EXPECT_NE(notesOf(mentions, t).find("does not record its subject routing"), std::string::npos);
}

// Routed subjects mask the training windows only: the step's loss changes, and the
// evaluation afterwards equals an unrouted trainer's on the same weights, bit for bit
// (the last batch's masks are not left on the evaluation's passes).
TEST(Trainer, RoutedSubjectsMaskTrainingButNotEvaluation) {
    TempDir dir;
    const TrainConfig t = tinyTrainConfig(dir.path());
    const auto stream = markovStream(t.model.vocabSize, 4000, 3);
    const std::vector<int> train(stream.begin(), stream.end() - 1000), eval(stream.end() - 1000, stream.end());
    std::vector<SubjectMention> mentions;  // a three-token "subject" every 7 tokens
    for (int64_t i = 0; i + 3 <= int64_t(train.size()); i += 7) mentions.push_back({i, i + 3});

    Trainer routed(t, tinyModel(t), train, eval);
    routed.routeSubjects(mentions);
    Trainer plain(t, tinyModel(t), train, eval);
    const double routedLoss = routed.step().loss;
    EXPECT_NE(routedLoss, plain.step().loss);

    Trainer again(t, tinyModel(t), train, eval);
    again.routeSubjects(mentions);
    EXPECT_EQ(again.step().loss, routedLoss);  // deterministic with masks too

    Trainer evaluator(t, routed.model(), train, eval);
    EXPECT_EQ(routed.evalLoss(), evaluator.evalLoss());
}

TEST(Trainer, RejectsACorpusShorterThanOneWindow) {
    TempDir dir;
    const TrainConfig t = tinyTrainConfig(dir.path());
    EXPECT_THROW(Trainer(t, tinyModel(t), std::vector<int>(16, 1), {}), InvalidInput);
    EXPECT_THROW(Trainer(t, tinyModel(t), std::vector<int>(100, 300), {}), InvalidInput);
}

TEST(Optimizer, WarmupThenCosineToMinLr) {
    EXPECT_DOUBLE_EQ(learningRate(0, 100, 10, 1.0, 0.1), 0.1);
    EXPECT_DOUBLE_EQ(learningRate(9, 100, 10, 1.0, 0.1), 1.0);
    EXPECT_DOUBLE_EQ(learningRate(10, 100, 10, 1.0, 0.1), 1.0);
    EXPECT_NEAR(learningRate(55, 100, 10, 1.0, 0.1), 0.55, 1e-12);  // half way: mean
    EXPECT_NEAR(learningRate(100, 100, 10, 1.0, 0.1), 0.1, 1e-12);
    for (int s = 10; s < 100; ++s)
        EXPECT_GE(learningRate(s, 100, 10, 1.0, 0.1), learningRate(s + 1, 100, 10, 1.0, 0.1));
}

TEST(Optimizer, ClippingScalesTheGlobalNorm) {
    const ModelConfig c = tinyShape();
    Weights g = zeroWeights<float>(c);
    g.tokenEmbedding(0, 0) = 3;
    g.blocks[1].down.bias(0) = 4;
    EXPECT_NEAR(clipGradNorm(c, g, 10.0), 5.0, 1e-6);  // below the limit: unchanged
    EXPECT_EQ(g.tokenEmbedding(0, 0), 3.0f);
    EXPECT_NEAR(clipGradNorm(c, g, 1.0), 5.0, 1e-6);
    EXPECT_NEAR(g.tokenEmbedding(0, 0), 0.6f, 1e-6);
    EXPECT_NEAR(g.blocks[1].down.bias(0), 0.8f, 1e-6);
}

TEST(Optimizer, AdamWDecaysOnlyLinearWeights) {
    EXPECT_TRUE(decaysWeight("/blocks/0/attn/q/weight"));
    EXPECT_TRUE(decaysWeight("/blocks/3/mlp/down/weight"));
    EXPECT_TRUE(decaysWeight("/lm_head/weight"));
    EXPECT_FALSE(decaysWeight("/blocks/0/attn/q/bias"));
    EXPECT_FALSE(decaysWeight("/blocks/0/norm1/weight"));
    EXPECT_FALSE(decaysWeight("/final_norm/weight"));
    EXPECT_FALSE(decaysWeight("/embed/token"));
    EXPECT_FALSE(decaysWeight("/embed/position"));

    // With zero gradients only decay moves the weights: w <- w (1 - lr wd).
    const ModelConfig c = tinyShape();
    Weights w = randomWeights(c, 5);
    const Weights before = w;
    AdamW adam(c, {.weightDecay = 0.5});
    adam.step(w, zeroWeights<float>(c), 0.1);
    EXPECT_TRUE(w.blocks[0].q.weight.isApprox(before.blocks[0].q.weight * 0.95f));
    EXPECT_EQ(w.tokenEmbedding, before.tokenEmbedding);
    EXPECT_EQ(w.blocks[0].norm1.weight, before.blocks[0].norm1.weight);
    // First step of Adam moves every weight with a gradient by about lr.
    Weights g = zeroWeights<float>(c);
    g.tokenEmbedding.setConstant(1e-3f);
    AdamW plain(c, {.weightDecay = 0.0});
    Weights w2 = before;
    plain.step(w2, g, 0.1);
    EXPECT_NEAR((before.tokenEmbedding - w2.tokenEmbedding).maxCoeff(), 0.1, 1e-3);
}

nlohmann::json minimalConfigJson() {
    return {{"model", {{"architecture", "gpt2"}, {"n_layer", 2}, {"n_head", 2}, {"d_model", 32},
                       {"d_ff", 64}, {"n_ctx", 128}}},
            {"tokenizer", {{"vocab_size", 300}}},
            {"corpus", "corpus.txt"},
            {"out", "model.h5"}};
}

TEST(TrainConfig, DefaultsRelativePathsAndErrors) {
    const TrainConfig t = parseTrainConfig(minimalConfigJson(), "/data/run");
    EXPECT_EQ(t.corpus.at(0), fs::path("/data/run/corpus.txt"));
    EXPECT_EQ(t.out, fs::path("/data/run/model.h5"));
    EXPECT_EQ(t.checkpoint, fs::path("/data/run/model.ckpt"));
    EXPECT_EQ(t.model.nKvHeads, 2);
    EXPECT_TRUE(t.model.tieEmbeddings);
    EXPECT_EQ(t.model.activation, Activation::GeluTanh);
    EXPECT_EQ(t.tokenizerVocab, 300);
    EXPECT_TRUE(t.routeSubjects.empty());
    auto routed = minimalConfigJson();
    routed["route_subjects"] = {"facts.json", "/abs/more.json"};
    EXPECT_EQ(parseTrainConfig(routed, "/data/run").routeSubjects,
              (std::vector<fs::path>{"/data/run/facts.json", "/abs/more.json"}));

    EXPECT_EQ(t.routeFraction, 1.0);
    routed["route_fraction"] = 0.25;
    EXPECT_EQ(parseTrainConfig(routed, "/data/run").routeFraction, 0.25);
    EXPECT_EQ(t.lastStep(), t.steps);
    routed["stop_at"] = 7;
    EXPECT_EQ(parseTrainConfig(routed, "/data/run").lastStep(), 7);

    // Fine-tuning: the shape and the tokenizer are the starting model's.
    auto tuned = minimalConfigJson();
    tuned.erase("model");
    tuned.erase("tokenizer");
    tuned["init"] = "demo.h5";
    EXPECT_EQ(parseTrainConfig(tuned, "/data/run").init, fs::path("/data/run/demo.h5"));
    EXPECT_TRUE(t.init.empty());

    auto expectError = [](nlohmann::json j, const std::string& needle) {
        try {
            parseTrainConfig(j, "/x", "train.json");
            ADD_FAILURE() << "accepted: " << j.dump();
        } catch (const InvalidInput& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("train.json"), std::string::npos) << e.what();
        }
    };
    auto j = minimalConfigJson();
    j["lerning_rate"] = 0.1;
    expectError(j, "'lerning_rate' is not a known key");
    j = minimalConfigJson();
    j["model"]["n_layers"] = 2;
    expectError(j, "'n_layers' is not a known key");
    j = minimalConfigJson();
    j["steps"] = "many";
    expectError(j, "'steps' must be an integer");
    j = minimalConfigJson();
    j.erase("corpus");
    expectError(j, "'corpus' is required");
    j = minimalConfigJson();
    j["seq_len"] = 129;
    expectError(j, "seq_len");
    j = minimalConfigJson();
    j["tokenizer"]["from"] = "other.h5";
    expectError(j, "exactly one of");
    j = minimalConfigJson();
    j["model"]["d_model"] = 33;
    expectError(j, "not divisible");
    j = minimalConfigJson();
    j.erase("tokenizer");
    expectError(j, "'tokenizer' is required");
    j = minimalConfigJson();
    j["init"] = "demo.h5";
    expectError(j, "'model' must be absent with 'init'");
    j = tuned;
    j["tokenizer"] = {{"vocab_size", 300}};
    expectError(j, "'tokenizer' must be absent with 'init'");
    j = minimalConfigJson();
    j["route_hidden_layers"] = 1;
    expectError(j, "'route_hidden_layers' needs route_subjects");
    j["route_subjects"] = "facts.json";
    j["route_hidden_layers"] = 3;
    expectError(j, "'route_hidden_layers' must not exceed the model's n_layer");
    j["route_hidden_layers"] = -1;
    expectError(j, "'route_hidden_layers' must not be negative");
    j["route_hidden_layers"] = 2;
    EXPECT_EQ(parseTrainConfig(j, "/x").routeHiddenLayers, 2);
    for (int bad : {-1, 1000000}) {
        j = minimalConfigJson();
        j["stop_at"] = bad;
        expectError(j, "'stop_at' must be between 0 (all steps) and steps");
    }
    for (double bad : {0.0, -0.5, 1.5}) {
        j = minimalConfigJson();
        j["route_fraction"] = bad;
        expectError(j, "'route_fraction' must be in (0, 1]");
    }
}

TEST(TrainConfig, CommittedDemoRecipeParses) {
    const fs::path dir = fs::path(MWB_SOURCE_DIR) / "resources" / "train";
    int configs = 0;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.path().extension() == ".json") {
            EXPECT_NO_THROW(loadTrainConfig(entry.path())) << entry.path();
            ++configs;
        }
    EXPECT_GE(configs, 4);
    // scripts/train_demo.sh: stage 1 stops mid-schedule, stage 2 starts from its output.
    const TrainConfig stage1 = loadTrainConfig(dir / "demo_stage1.json");
    const TrainConfig stage2 = loadTrainConfig(dir / "demo.json");
    EXPECT_EQ(stage1.lastStep(), 5500);
    EXPECT_LT(stage1.lastStep(), stage1.steps);
    EXPECT_FALSE(stage1.routeSubjects.empty());
    EXPECT_EQ(stage2.init, stage1.out);
    EXPECT_EQ(stage2.routeFraction, 0.5);
    EXPECT_EQ(stage2.out.filename(), "demo.h5");
}

TEST(TrainConfig, EndToEndTrainsTokenizerAndModelAndResumesAfterCompletion) {
    TempDir dir;
    {
        std::ofstream corpus(dir.path() / "corpus.txt");
        const char* names[] = {"Paris", "Rome", "Berlin", "Madrid", "Vienna", "Lisbon"};
        const char* countries[] = {"France", "Italy", "Germany", "Spain", "Austria", "Portugal"};
        for (int rep = 0; rep < 40; ++rep)
            for (int i = 0; i < 6; ++i)
                corpus << "The capital of " << countries[i] << " is " << names[i] << ".\n\n";
    }
    auto j = minimalConfigJson();
    j["steps"] = 30;
    j["seq_len"] = 16;
    j["batch_size"] = 4;
    j["lr"] = 3e-3;
    j["warmup"] = 5;
    j["document_separator"] = "\n\n";
    j["eval_fraction"] = 0.1;
    j["checkpoint_every"] = 10;
    j["route_subjects"] = "facts.json";
    {
        std::ofstream(dir.path() / "facts.json")
            << R"([{"known_id": 0, "subject": "capital of Austria", "attribute": "Vienna",
                    "template": "The {} is", "prompt": "The capital of Austria is",
                    "relation_id": "P36"}])";
    }
    {
        std::ofstream(dir.path() / "train.json") << j.dump(2);
    }
    const TrainConfig t = loadTrainConfig(dir.path() / "train.json");
    std::vector<TrainStatus> statuses;
    std::vector<std::string> messages;
    TrainCallbacks cb;
    cb.onStatus = [&](const TrainStatus& s) { statuses.push_back(s); };
    cb.onMessage = [&](const std::string& m) { messages.push_back(m); };
    const TrainResult r = runTraining(t, false, cb);
    EXPECT_EQ(r.steps, 30);
    ASSERT_FALSE(statuses.empty());
    EXPECT_EQ(statuses.back().step, 30);
    EXPECT_GT(statuses.back().tokensPerSecond, 0);
    EXPECT_TRUE(std::isfinite(r.evalLoss));
    EXPECT_LT(r.finalLoss, std::log(double(r.vocabSize)));
    // Three words, so several tokens; 36 of the 40 statements mention it in the
    // training tokens (eval_fraction holds out the last tenth).
    EXPECT_NE(std::find(messages.begin(), messages.end(),
                        "routing 36 subject mentions through their last token"),
              messages.end())
        << ::testing::PrintToString(messages);

    const Model m = loadModel(dir.path() / "model.h5");
    EXPECT_EQ(m.config.vocabSize, r.vocabSize);
    EXPECT_LE(m.config.vocabSize, 300);
    EXPECT_EQ(m.tokenizer.decode(m.tokenizer.encodeIds("The capital of Spain")), "The capital of Spain");

    // Resuming a finished run continues from its final checkpoint and changes nothing.
    const TrainResult again = runTraining(t, true, cb);
    EXPECT_EQ(again.steps, 30);
    expectSameWeights(m, loadModel(dir.path() / "model.h5"));

    TrainConfig missing = t;
    missing.checkpoint = dir.path() / "nothing";
    EXPECT_THROW(runTraining(missing, true, cb), InvalidInput);

    // Fine-tuning from the trained model: half of the mentions routed, a learning rate
    // too small to move any weight visibly, so the result is the starting model.
    TrainConfig tune = t;
    tune.init = dir.path() / "model.h5";
    tune.model = ModelConfig{};
    tune.tokenizerVocab = 0;
    tune.routeFraction = 0.5;
    tune.steps = 3;
    tune.lr = 1e-12;
    tune.minLr = 0;
    tune.weightDecay = 0;
    tune.out = dir.path() / "tuned.h5";
    tune.checkpoint = dir.path() / "tuned.ckpt";
    messages.clear();
    statuses.clear();
    const TrainResult tuned = runTraining(tune, false, cb);
    EXPECT_EQ(tuned.steps, 3);
    EXPECT_EQ(messages.at(0), "starting from the weights of " + tune.init.string());
    bool sampled = false;
    for (const std::string& note : messages) sampled |= note.find(" of 36 subject mentions") != std::string::npos;
    EXPECT_TRUE(sampled) << ::testing::PrintToString(messages);
    // A trained model's first loss, not a random one's (about log 300 = 5.7).
    EXPECT_LT(statuses.front().loss, 0.8 * std::log(double(r.vocabSize)));
    const Model start = loadModel(tune.init);
    const Model out = loadModel(tune.out);
    EXPECT_EQ(out.tokenizer.encodeIds("The capital of Spain"), start.tokenizer.encodeIds("The capital of Spain"));
    EXPECT_EQ(out.config.nLayers, start.config.nLayers);
    EXPECT_LT((out.weights.blocks[1].down.weight - start.weights.blocks[1].down.weight).cwiseAbs().maxCoeff(), 1e-6f);
    // It resumes like any run, checking the checkpoint against the starting model's shape.
    EXPECT_EQ(runTraining(tune, true, cb).steps, 3);
}

}  // namespace
}  // namespace mwb

namespace mwb {
namespace {

// A mixture of experts learns the chain like a dense model, and the load-balancing loss
// (Fedus et al. 2022) keeps its router near balanced: alpha * E * Σ f_i P_i is alpha
// for perfectly even routing and grows as the router favours some experts.
TEST(Trainer, MixtureOfExpertsLearnsWithBalancedRouting) {
    TempDir dir;
    auto balanceAfterTraining = [&](double coef, double* firstLoss, double* lastLoss) {
        TrainConfig t = tinyTrainConfig(dir.path(), Architecture::Llama);
        t.model.nExperts = 4;
        t.model.nExpertsPerToken = 2;
        t.model.dExpert = 32;
        t.model.normTopK = true;
        t.routerAuxLossCoef = coef;
        t.steps = 200;
        t.lr = 3e-3;
        t.minLr = 3e-4;
        t.warmup = 20;
        const auto stream = markovStream(t.model.vocabSize, 20000, 5);
        Trainer trainer(t, tinyModel(t), stream, {});
        TrainStatus s = trainer.step();
        *firstLoss = s.loss;
        for (int i = 1; i < t.steps; ++i) s = trainer.step();
        *lastLoss = s.loss;
        // The routing balance of the trained model, on fresh windows, with alpha 1.
        Backprop bp(trainer.model().config, trainer.model().weights);
        bp.setRouterBalance(1.0);
        const std::vector<int> tokens(stream.begin(), stream.begin() + 8 * 16);
        bp.forward(tokens, 8, 16);
        return bp.routerBalanceLoss();
    };
    double first = 0, last = 0, firstFree = 0, lastFree = 0;
    const double balanced = balanceAfterTraining(0.1, &first, &last);
    const double free = balanceAfterTraining(0.0, &firstFree, &lastFree);
    EXPECT_NEAR(first, std::log(300.0), 0.3);
    EXPECT_LT(last, 0.45 * first) << "first " << first << ", last " << last;
    EXPECT_LT(lastFree, 0.45 * firstFree);
    EXPECT_LT(balanced, 1.005);
    EXPECT_LT(balanced, free) << "balanced " << balanced << ", without the loss " << free;
}

TEST(TrainConfig, MixtureOfExpertsKeysAndTheMoeDemoRecipe) {
    const fs::path dir = fs::path(MWB_SOURCE_DIR) / "resources" / "train";
    const TrainConfig stage1 = loadTrainConfig(dir / "moe_stage1.json");
    const TrainConfig stage2 = loadTrainConfig(dir / "moe.json");
    EXPECT_EQ(stage1.model.nExperts, 8);
    EXPECT_EQ(stage1.model.nExpertsPerToken, 2);
    EXPECT_EQ(stage1.model.dExpert, 128);
    EXPECT_TRUE(stage1.model.normTopK);
    EXPECT_EQ(stage1.routerAuxLossCoef, 0.01);
    EXPECT_EQ(stage2.init, stage1.out);
    EXPECT_EQ(stage2.out.filename(), "moe-demo.h5");

    const nlohmann::json base = nlohmann::json::parse(R"({"model": {"architecture": "llama", "n_layer": 2,
        "n_head": 2, "d_model": 32, "d_ff": 64, "n_ctx": 32, "n_experts": 4, "n_experts_per_token": 2,
        "d_expert": 16, "dense_layers": [0]}, "tokenizer": {"vocab_size": 300}, "seq_len": 16, "corpus": "c.txt", "out": "o.h5"})");
    const TrainConfig t = parseTrainConfig(base, "/tmp");
    EXPECT_EQ(t.model.denseLayers, std::vector<int>{0});
    EXPECT_FALSE(t.model.moeLayer(0));
    EXPECT_TRUE(t.model.moeLayer(1));
    auto refused = [&](const char* key, const nlohmann::json& value) {
        nlohmann::json j = base;
        j["model"][key] = value;
        try {
            parseTrainConfig(j, "/tmp");
        } catch (const InvalidInput& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    EXPECT_NE(refused("n_experts_per_token", 5).find("n_experts_per_token"), std::string::npos);
    EXPECT_NE(refused("dense_layers", "0").find("dense_layers"), std::string::npos);
    EXPECT_NE(refused("dense_layers", nlohmann::json::array({7})).find("dense"), std::string::npos);
    nlohmann::json negative = base;
    negative["router_aux_loss_coef"] = -1;
    EXPECT_THROW(parseTrainConfig(negative, "/tmp"), InvalidInput);
}

}  // namespace
}  // namespace mwb
