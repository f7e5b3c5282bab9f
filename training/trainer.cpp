// The training loop and its checkpoints (see trainer.h).
//
// Checkpoint state file (`<checkpoint>.state`), native byte order:
//   "MWBCKPT1", u32 version = 2, i64 step, i64 AdamW steps, u32 threads,
//   u64 hash of the training tokens, u64 hash of the subject routing (version 2 on;
//   version 1 files are still read), string sampler state (std::mt19937_64 text form),
//   u32 tensor count, then per tensor in forEachTensor order: string path, i64 size,
//   float weights[size], float firstMoment[size], float secondMoment[size];
//   finally u64 FNV-1a hash of everything before it. Strings are u64 length + bytes.
// The weights are stored here as well as in `<checkpoint>.h5`, so that a process killed
// between writing the two files still resumes from a consistent state.
#include "training/trainer.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <sstream>

#include "tensor/atomic_file.h"
#include "tensor/errors.h"
#include "tensor/files.h"
#include "io/hdf5_model_file.h"

namespace mwb {

namespace {

constexpr char kMagic[8] = {'M', 'W', 'B', 'C', 'K', 'P', 'T', '1'};
constexpr uint32_t kStateVersion = 2;

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

class StateWriter {
public:
    template <typename U>
    void put(U v) { m_buf.append(reinterpret_cast<const char*>(&v), sizeof(U)); }
    void putBytes(const char* p, size_t n) { m_buf.append(p, n); }
    void putString(const std::string& s) {
        put<uint64_t>(s.size());
        m_buf += s;
    }
    void putFloats(const float* p, int64_t n) {
        m_buf.append(reinterpret_cast<const char*>(p), size_t(n) * sizeof(float));
    }
    std::string finish() {
        put<uint64_t>(fnv1a(m_buf.data(), m_buf.size()));
        return std::move(m_buf);
    }

private:
    std::string m_buf;
};

class StateReader {
public:
    StateReader(std::string buf, std::filesystem::path file)
        : m_buf(std::move(buf)), m_file(std::move(file)) {
        if (m_buf.size() < sizeof(kMagic) + 8 || std::memcmp(m_buf.data(), kMagic, 8) != 0)
            fail("is not a training checkpoint state file");
        uint64_t stored;
        std::memcpy(&stored, m_buf.data() + m_buf.size() - 8, 8);
        m_end = m_buf.size() - 8;
        if (fnv1a(m_buf.data(), m_end) != stored) fail("is corrupt or truncated (checksum mismatch)");
        m_pos = sizeof(kMagic);
    }
    [[noreturn]] void fail(const std::string& problem) const {
        throw InvalidInput(m_file.string() + " " + problem);
    }
    template <typename U>
    U get() {
        need(sizeof(U));
        U v;
        std::memcpy(&v, m_buf.data() + m_pos, sizeof(U));
        m_pos += sizeof(U);
        return v;
    }
    std::string getString() {
        const auto n = get<uint64_t>();
        need(n);
        std::string s = m_buf.substr(m_pos, n);
        m_pos += n;
        return s;
    }
    void getFloats(float* p, int64_t n) {
        need(size_t(n) * sizeof(float));
        std::memcpy(p, m_buf.data() + m_pos, size_t(n) * sizeof(float));
        m_pos += size_t(n) * sizeof(float);
    }
    bool atEnd() const { return m_pos == m_end; }

private:
    void need(uint64_t n) const {
        if (n > m_end - m_pos) fail("is truncated");
    }
    std::string m_buf;
    std::filesystem::path m_file;
    size_t m_pos = 0;
    size_t m_end = 0;
};

Model checkedModel(const TrainConfig& t, Model model) {
    const ModelConfig& a = t.model;
    const ModelConfig& b = model.config;
    if (!sameShape(a, b))
        throw InvalidInput("the model to train does not have the shape of the training configuration");
    if (hasHalfWeights(model.weights))
        throw InvalidInput("cannot train a model whose weights are kept in float16 in memory (load it with --weights float32)");
    if (const std::string problem = configProblem(b); !problem.empty())
        throw InvalidInput("cannot train this model: " + problem);
    if (int(model.weights.blocks.size()) != b.nLayers)
        throw InvalidInput("cannot train this model: its weights are missing");
    return model;
}

double secondsSince(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

Trainer::Trainer(TrainConfig config, Model model, std::vector<int> trainTokens,
                 std::vector<int> evalTokens)
    : m_config(std::move(config)),
      m_model(checkedModel(m_config, std::move(model))),
      m_train(std::move(trainTokens)),
      m_eval(std::move(evalTokens)),
      m_backprop(m_model.config, m_model.weights),
      m_adam(m_model.config, {.beta1 = m_config.beta1,
                              .beta2 = m_config.beta2,
                              .eps = m_config.adamEps,
                              .weightDecay = m_config.weightDecay}),
      m_grads(zeroWeights<float>(m_model.config)),
      m_rng(m_config.seed) {
    m_config.model = m_model.config;
    // Each of the gradAccum passes of a step carries its share of the step's mean.
    if (m_model.config.moe()) m_backprop.setRouterBalance(m_config.routerAuxLossCoef / m_config.gradAccum);
    if (m_config.seqLen > m_model.config.nCtx)
        throw InvalidInput("seq_len " + std::to_string(m_config.seqLen) + " exceeds n_ctx " +
                           std::to_string(m_model.config.nCtx));
    if (int64_t(m_train.size()) <= m_config.seqLen)
        throw InvalidInput("the training text has " + std::to_string(m_train.size()) +
                           " tokens, fewer than one window of seq_len + 1 = " +
                           std::to_string(m_config.seqLen + 1));
    for (const auto* stream : {&m_train, &m_eval})
        for (int t : *stream)
            if (t < 0 || t >= m_model.config.vocabSize)
                throw InvalidInput("token id " + std::to_string(t) + " is outside the vocabulary");
    m_trainHash = fnv1a(m_train.data(), m_train.size() * sizeof(int));
}

void Trainer::sampleBatch() {
    const int len = m_config.seqLen;
    const uint64_t range = m_train.size() - size_t(len);  // start in [0, range)
    m_inputs.resize(size_t(m_config.batchSize) * len);
    m_targets.resize(m_inputs.size());
    m_blocked.clear();
    for (int b = 0; b < m_config.batchSize; ++b) {
        // Plain modulo (not std::uniform_int_distribution) keeps the sequence the same
        // on every standard library; its bias is negligible for corpus-sized ranges.
        const size_t start = size_t(m_rng() % range);
        std::copy_n(m_train.begin() + start, len, m_inputs.begin() + size_t(b) * len);
        std::copy_n(m_train.begin() + start + 1, len, m_targets.begin() + size_t(b) * len);
        appendSubjectMasks(m_mentions, int64_t(start), len, b, m_blocked,
                           m_config.routeHiddenLayers);
    }
    m_backprop.setBlockedKeys(m_blocked);
}

TrainStatus Trainer::step() {
    forEachTensor(m_model.config, m_grads, [](const std::string&, auto& t) { t.setZero(); });
    double lossSum = 0, balanceSum = 0;
    for (int a = 0; a < m_config.gradAccum; ++a) {
        sampleBatch();
        m_backprop.forward(m_inputs, m_config.batchSize, m_config.seqLen);
        lossSum += crossEntropy(m_backprop.logits(), m_targets, m_dLogits);
        balanceSum += m_backprop.routerBalanceLoss();
        if (m_config.gradAccum > 1) m_dLogits *= 1.0f / float(m_config.gradAccum);
        m_backprop.backward(m_dLogits, m_grads);
    }
    TrainStatus s;
    s.totalSteps = m_config.lastStep();
    s.loss = lossSum / m_config.gradAccum;
    s.routerBalanceLoss = balanceSum;
    if (!std::isfinite(s.loss))
        throw Error("training diverged at step " + std::to_string(m_step + 1) +
                    " (the loss is not finite); try a lower lr or a stronger grad_clip");
    s.gradNorm = clipGradNorm(m_model.config, m_grads, m_config.gradClip);
    s.lr = learningRate(m_step, m_config.steps, m_config.warmup, m_config.lr, m_config.minLr);
    m_adam.step(m_model.weights, m_grads, s.lr);
    s.step = ++m_step;
    return s;
}

double Trainer::evalLoss() {
    const int len = m_config.seqLen, batch = m_config.batchSize;
    if (int64_t(m_eval.size()) <= len) return std::numeric_limits<double>::quiet_NaN();
    // evalBatches * batch windows spread evenly over the held-out stream (they overlap
    // when it is short), always the same ones.
    const int64_t windows = int64_t(m_config.evalBatches) * batch;
    const int64_t lastStart = int64_t(m_eval.size()) - len - 1;
    std::vector<int> inputs(size_t(batch) * len), targets(inputs.size());
    m_backprop.setBlockedKeys({});
    double total = 0;
    for (int64_t w0 = 0; w0 < windows; w0 += batch) {
        for (int b = 0; b < batch; ++b) {
            const int64_t start = windows > 1 ? (w0 + b) * lastStart / (windows - 1) : 0;
            std::copy_n(m_eval.begin() + start, len, inputs.begin() + size_t(b) * len);
            std::copy_n(m_eval.begin() + start + 1, len, targets.begin() + size_t(b) * len);
        }
        m_backprop.forward(inputs, batch, len);
        total += crossEntropy(m_backprop.logits(), targets, m_dLogits);
    }
    return total / double(m_config.evalBatches);
}

void Trainer::run(const TrainCallbacks& cb) {
    const auto start = std::chrono::steady_clock::now();
    const int firstStep = m_step;
    const double tokensPerStep =
        double(m_config.batchSize) * m_config.seqLen * m_config.gradAccum;
    auto message = [&](const std::string& m) {
        if (cb.onMessage) cb.onMessage(m);
    };
    auto checkpoint = [&] {
        saveCheckpoint();
        message("checkpoint at step " + std::to_string(m_step) + " written to " +
                checkpointStatePath(m_config).string());
    };
    const int end = m_config.lastStep();
    report(cb.progress, {m_step, end, "train"});
    while (m_step < end) {
        TrainStatus s = step();
        const double elapsed = secondsSince(start);
        const int done = m_step - firstStep;
        s.elapsedSeconds = elapsed;
        s.tokensPerSecond = elapsed > 0 ? done * tokensPerStep / elapsed : 0;
        s.etaSeconds = elapsed / done * (end - m_step);
        const bool last = m_step == end;
        const bool evaluate = last || (m_config.evalEvery > 0 && m_step % m_config.evalEvery == 0);
        if (evaluate) s.evalLoss = evalLoss();
        if (cb.onStatus && (last || evaluate || m_step % m_config.logEvery == 0)) cb.onStatus(s);
        if (m_config.checkpointEvery > 0 && m_step % m_config.checkpointEvery == 0 && !last)
            checkpoint();
        try {
            report(cb.progress, {m_step, end, "train"});
        } catch (const Cancelled&) {
            checkpoint();
            throw;
        }
    }
    checkpoint();  // lets --resume after completion (or with more steps) continue from here
}

std::filesystem::path Trainer::checkpointModelPath(const TrainConfig& c) {
    std::filesystem::path p = c.checkpoint;
    p += ".h5";
    return p;
}

uint64_t Trainer::routingHash() const {
    const int hidden = m_config.routeHiddenLayers;
    const uint64_t h = fnv1a(&hidden, sizeof hidden);
    return fnv1a(m_mentions.data(), m_mentions.size() * sizeof(SubjectMention), h);
}

std::filesystem::path Trainer::checkpointStatePath(const TrainConfig& c) {
    std::filesystem::path p = c.checkpoint;
    p += ".state";
    return p;
}

void Trainer::saveCheckpoint() const {
    const ModelConfig& c = m_model.config;
    StateWriter w;
    w.putBytes(kMagic, sizeof(kMagic));
    w.put<uint32_t>(kStateVersion);
    w.put<int64_t>(m_step);
    w.put<int64_t>(m_adam.steps());
    w.put<uint32_t>(uint32_t(omp_get_max_threads()));
    w.put<uint64_t>(m_trainHash);
    w.put<uint64_t>(routingHash());
    std::ostringstream rng;
    rng << m_rng;
    w.putString(rng.str());
    std::vector<std::pair<std::string, std::vector<const float*>>> tensors;
    std::vector<int64_t> sizes;
    forEachTensor(c, m_model.weights, [&](const std::string& path, const auto& t) {
        tensors.push_back({path, {t.data()}});
        sizes.push_back(t.size());
    });
    AdamW& adam = const_cast<AdamW&>(m_adam);
    size_t i = 0;
    forEachTensor(c, adam.firstMoment(), [&](const std::string&, auto& t) { tensors[i++].second.push_back(t.data()); });
    i = 0;
    forEachTensor(c, adam.secondMoment(), [&](const std::string&, auto& t) { tensors[i++].second.push_back(t.data()); });
    w.put<uint32_t>(uint32_t(tensors.size()));
    for (size_t k = 0; k < tensors.size(); ++k) {
        w.putString(tensors[k].first);
        w.put<int64_t>(sizes[k]);
        for (const float* p : tensors[k].second) w.putFloats(p, sizes[k]);
    }
    const std::filesystem::path statePath = checkpointStatePath(m_config);
    if (statePath.has_parent_path()) std::filesystem::create_directories(statePath.parent_path());
    saveModel(m_model, checkpointModelPath(m_config), StorageType::Float32, /*overwrite=*/true);
    writeFileAtomically(statePath, w.finish());
}

std::vector<std::string> Trainer::loadCheckpoint() {
    const std::filesystem::path file = checkpointStatePath(m_config);
    StateReader r(readFile(file, "there is no checkpoint to resume from"), file);
    const auto version = r.get<uint32_t>();
    if (version < 1 || version > kStateVersion) r.fail("has an unsupported version");
    const auto step = r.get<int64_t>();
    const auto adamSteps = r.get<int64_t>();
    const auto threads = r.get<uint32_t>();
    const auto trainHash = r.get<uint64_t>();
    const auto routing = version >= 2 ? r.get<uint64_t>() : 0;
    std::istringstream rngText(r.getString());
    std::mt19937_64 rng;
    rngText >> rng;
    if (!rngText) r.fail("holds an unreadable sampler state");
    if (step < 0 || adamSteps < 0) r.fail("holds a negative step");

    // Read into copies first so that a bad file leaves the trainer untouched.
    const ModelConfig& c = m_model.config;
    Weights weights = m_model.weights;
    AdamW adam = m_adam;
    std::vector<std::pair<std::string, std::vector<float*>>> tensors;
    forEachTensor(c, weights, [&](const std::string& path, auto& t) { tensors.push_back({path, {t.data()}}); });
    size_t i = 0;
    forEachTensor(c, adam.firstMoment(), [&](const std::string&, auto& t) { tensors[i++].second.push_back(t.data()); });
    i = 0;
    forEachTensor(c, adam.secondMoment(), [&](const std::string&, auto& t) { tensors[i++].second.push_back(t.data()); });
    std::vector<int64_t> sizes;
    forEachTensor(c, m_model.weights, [&](const std::string&, const auto& t) { sizes.push_back(t.size()); });
    if (r.get<uint32_t>() != tensors.size()) r.fail("was written for a model with another number of tensors");
    for (size_t k = 0; k < tensors.size(); ++k) {
        const std::string path = r.getString();
        const auto size = r.get<int64_t>();
        if (path != tensors[k].first || size != sizes[k])
            r.fail("holds " + path + " with " + std::to_string(size) + " values where this model has " +
                   tensors[k].first + " with " + std::to_string(sizes[k]));
        for (float* p : tensors[k].second) r.getFloats(p, size);
    }
    if (!r.atEnd()) r.fail("has unexpected trailing data");

    m_model.weights = std::move(weights);
    adam.setSteps(adamSteps);
    m_adam = std::move(adam);
    m_rng = rng;
    m_step = int(step);
    std::vector<std::string> notes;
    notes.push_back("resumed from " + file.string() + " at step " + std::to_string(m_step));
    if (threads != uint32_t(omp_get_max_threads()))
        notes.push_back("the checkpoint was written with " + std::to_string(threads) +
                        " threads and this run uses " + std::to_string(omp_get_max_threads()) +
                        ": results will differ in the last bits from an uninterrupted run");
    if (trainHash != m_trainHash)
        notes.push_back("the training text differs from the one the checkpoint was trained on");
    if (version < 2)
        notes.push_back("the checkpoint does not record its subject routing (an older format), "
                        "so a change of route_subjects, route_fraction or route_hidden_layers "
                        "goes unnoticed");
    else if (routing != routingHash())
        notes.push_back("the subject routing (route_subjects, route_fraction or "
                        "route_hidden_layers) differs from the one the checkpoint was trained with");
    return notes;
}

}  // namespace mwb
