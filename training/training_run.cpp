// `mwb train` end to end: corpus -> tokenizer -> token streams -> Trainer -> model file.
#include <algorithm>
#include <optional>

#include "data/datasets.h"
#include "tensor/errors.h"
#include "tensor/files.h"
#include "io/hdf5_model_file.h"
#include "model/random_init.h"
#include "training/trainer.h"

namespace mwb {

namespace {

std::string readText(const std::filesystem::path& file) {
    std::optional<std::string> text = tryReadFile(file);
    if (!text) throw InvalidInput("cannot read the text file " + file.string());
    return std::move(*text);
}

std::vector<std::string> readTexts(const std::vector<std::filesystem::path>& files) {
    std::vector<std::string> texts;
    for (const auto& f : files) {
        texts.push_back(readText(f));
        if (texts.back().empty()) throw InvalidInput("the text file " + f.string() + " is empty");
    }
    return texts;
}

Tokenizer makeTokenizer(const TrainConfig& config, const std::vector<std::string>& corpus,
                        const TrainCallbacks& cb) {
    if (!config.tokenizerFrom.empty()) return loadModel(config.tokenizerFrom).tokenizer;
    std::string text;
    for (const std::string& t : corpus) {
        if (config.tokenizerTrainBytes > 0 && int64_t(text.size()) >= config.tokenizerTrainBytes)
            break;
        text += t;
    }
    if (config.tokenizerTrainBytes > 0 && int64_t(text.size()) > config.tokenizerTrainBytes)
        text.resize(size_t(config.tokenizerTrainBytes));
    if (cb.onMessage)
        cb.onMessage("learning a " + std::to_string(config.tokenizerVocab) +
                     "-token byte-level BPE vocabulary from " + std::to_string(text.size()) +
                     " bytes");
    return Tokenizer(trainByteBpe(text, config.tokenizerVocab, cb.progress));
}

}  // namespace

std::vector<int> tokenizeDocuments(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                   const std::string& separator, const ProgressFn& progress) {
    int eos = tokenizer.spec().eosId;
    if (eos < 0) eos = tokenizer.pieceId("<|endoftext|>");
    std::vector<std::string_view> docs;
    for (const std::string& text : texts) {
        if (separator.empty()) {
            docs.push_back(text);
            continue;
        }
        size_t begin = 0;
        while (begin <= text.size()) {
            size_t end = text.find(separator, begin);
            if (end == std::string::npos) end = text.size();
            if (end > begin) docs.emplace_back(text.data() + begin, end - begin);
            begin = end + separator.size();
        }
    }
    std::vector<int> tokens;
    for (size_t i = 0; i < docs.size(); ++i) {
        if (i % 64 == 0) report(progress, {long(i), long(docs.size()), "tokenize"});
        const std::vector<int> ids = tokenizer.encodeIds(docs[i], /*allowBos=*/false);
        tokens.insert(tokens.end(), ids.begin(), ids.end());
        if (eos >= 0) tokens.push_back(eos);
    }
    report(progress, {long(docs.size()), long(docs.size()), "tokenize"});
    return tokens;
}

TrainResult runTraining(const TrainConfig& config, bool resume, const TrainCallbacks& cb) {
    auto message = [&](const std::string& m) {
        if (cb.onMessage) cb.onMessage(m);
    };
    // With init the shape is the starting model's; a checkpoint must match it.
    TrainConfig run = config;
    if (!run.init.empty()) run.model = loadConfig(run.init);

    const std::vector<std::string> corpus = readTexts(run.corpus);
    const std::vector<std::string> evalTexts = readTexts(run.evalText);

    Model model;
    if (resume) {
        const auto modelPath = Trainer::checkpointModelPath(run);
        if (!std::filesystem::exists(modelPath) ||
            !std::filesystem::exists(Trainer::checkpointStatePath(run)))
            throw InvalidInput("there is no checkpoint to resume from at " +
                               run.checkpoint.string() + ".{h5,state}");
        model = loadModel(modelPath);  // tokenizer and shape; weights come from the state
        if (!sameShape(model.config, run.model))
            throw InvalidInput("the checkpoint " + modelPath.string() +
                               " has another model shape than the training configuration");
    } else {
        if (std::filesystem::exists(Trainer::checkpointStatePath(run)))
            message("starting from scratch: the checkpoint " + run.checkpoint.string() +
                    ".{h5,state} will be overwritten (--resume continues from it)");
        if (!run.init.empty()) {
            model = loadModel(run.init, {.precision = WeightPrecision::Float32});
            message("starting from the weights of " + run.init.string());
            // Training changes the weights the edit records refer to, so undoing them
            // afterwards would be wrong; the edits stay in the weights.
            if (!model.edits.empty()) {
                message("its " + std::to_string(model.edits.size()) +
                        " recorded edit(s) stay in the weights but are no longer recorded");
                model.edits.clear();
            }
        } else {
            model.tokenizer = makeTokenizer(run, corpus, cb);
            model.config = run.model;
            model.config.vocabSize = model.tokenizer.vocabSize();
            if (model.config.name.empty()) model.config.name = run.out.stem().string();
            model.weights = randomWeights(model.config, run.seed);
        }
    }

    std::vector<int> train = tokenizeDocuments(model.tokenizer, corpus, run.documentSeparator, cb.progress);
    std::vector<int> eval;
    if (!evalTexts.empty()) {
        eval = tokenizeDocuments(model.tokenizer, evalTexts, run.documentSeparator, cb.progress);
    } else if (run.evalFraction > 0) {
        const size_t keep = train.size() - size_t(double(train.size()) * run.evalFraction);
        eval.assign(train.begin() + keep, train.end());
        train.resize(keep);
    }
    message(std::to_string(train.size()) + " training tokens, " + std::to_string(eval.size()) +
            " held-out tokens, vocabulary " + std::to_string(model.config.vocabSize) + ", " +
            std::to_string(model.config.parameterCount()) + " parameters");

    std::vector<SubjectMention> mentions;
    if (!run.routeSubjects.empty()) {
        std::vector<std::string> subjects;
        for (const auto& file : run.routeSubjects)
            for (const KnownFact& f : loadKnownFacts(file)) subjects.push_back(f.subject);
        std::sort(subjects.begin(), subjects.end());
        subjects.erase(std::unique(subjects.begin(), subjects.end()), subjects.end());
        if (run.routeHiddenLayers > model.config.nLayers)
            throw InvalidInput("route_hidden_layers (" + std::to_string(run.routeHiddenLayers) +
                               ") exceeds the model's " + std::to_string(model.config.nLayers) +
                               " layers");
        mentions = findSubjectMentions(model.tokenizer, train, subjects,
                                       run.routeHiddenLayers > 0 ? 1 : 2);
        const size_t found = mentions.size();
        if (run.routeFraction < 1) mentions = sampleMentions(mentions, run.routeFraction, run.seed);
        message("routing " + std::to_string(mentions.size()) +
                (mentions.size() < found ? " of " + std::to_string(found) : std::string()) +
                " subject mentions through their last token" +
                (run.routeHiddenLayers > 0
                     ? ", hidden in the first " + std::to_string(run.routeHiddenLayers) +
                           " layer(s)"
                     : std::string()));
    }

    TrainResult result;
    result.trainTokens = int64_t(train.size());
    result.vocabSize = model.config.vocabSize;
    Trainer trainer(run, std::move(model), std::move(train), std::move(eval));
    trainer.routeSubjects(std::move(mentions));
    if (resume)
        for (const std::string& note : trainer.loadCheckpoint()) message(note);

    TrainStatus last;
    TrainCallbacks inner = cb;
    inner.onStatus = [&](const TrainStatus& s) {
        last = s;
        if (cb.onStatus) cb.onStatus(s);
    };
    trainer.run(inner);

    if (run.out.has_parent_path()) std::filesystem::create_directories(run.out.parent_path());
    saveModel(trainer.model(), run.out, StorageType::Float32, /*overwrite=*/true);
    result.out = run.out;
    result.steps = trainer.stepsDone();
    result.finalLoss = last.loss;
    result.evalLoss = last.step > 0 ? last.evalLoss : trainer.evalLoss();
    return result;
}

}  // namespace mwb
