#include "editing/context_templates.h"

#include "tensor/errors.h"
#include "model/generate.h"

namespace mwb {

ContextTemplateOptions memitContextTemplates() {
    ContextTemplateOptions o;
    o.lengths = {{10, 5}};
    o.starts = {"The", "Therefore", "Because", "I", "You"};
    o.averagePerLength = true;
    return o;
}

std::vector<double> keyWeights(const ContextTemplateOptions& o) {
    long total = 1;
    int groups = 1;
    for (const auto& lc : o.lengths) {
        total += lc.second;
        groups += lc.second > 0;
    }
    std::vector<double> w;
    w.push_back(o.averagePerLength ? 1.0 / groups : 1.0 / total);
    for (const auto& [length, count] : o.lengths)
        for (int i = 0; i < count; ++i) w.push_back(o.averagePerLength ? 1.0 / (groups * count) : 1.0 / total);
    return w;
}

std::vector<std::string> contextTemplates(const Model& model, const ContextTemplateOptions& o,
                                          const ProgressFn& progress) {
    std::vector<std::string> templates = {"{}"};
    long total = 0;
    for (const auto& lc : o.lengths) total += lc.second;
    const Transformer transformer(model);
    if (o.starts.empty()) throw InvalidInput("context templates need at least one start word");
    uint64_t seed = o.seed;
    for (const auto& [length, count] : o.lengths) {
        for (int i = 0; i < count; ++i) {
            const std::string& start = o.starts[i % o.starts.size()];
            report(progress, {long(templates.size()) - 1, total, "context templates"});
            GenerateOptions g;
            g.maxNewTokens = length;
            g.sampling = {1.0f, o.topK, 1.0f, seed++};
            g.stopAtEos = true;
            const std::vector<int> startIds = model.tokenizer.encodeIds(start);
            const Generation gen = generate(transformer, startIds, g);
            std::string text = start + generatedText(model.tokenizer, gen);
            for (char& ch : text)
                if (ch == '{' || ch == '}' || ch == '\n') ch = ' ';
            // Decoded and encoded again, generated text can take more tokens than were
            // generated (bytes that are not UTF-8 come back as replacement characters):
            // shortened, a character at a time, to the tokens the prefix was meant to have.
            while (text.size() > start.size() &&
                   model.tokenizer.encodeIds(text).size() > startIds.size() + size_t(length)) {
                size_t last = text.size() - 1;  // where the last UTF-8 character starts
                while (last > 0 && (static_cast<unsigned char>(text[last]) & 0xC0) == 0x80) --last;
                text.resize(last);
            }
            templates.push_back(text + ". {}");
        }
    }
    report(progress, {total, total, "context templates"});
    return templates;
}

}  // namespace mwb
