#include "editing/context_templates.h"

#include "model/errors.h"
#include "model/generate.h"

namespace mwb {

std::vector<std::string> contextTemplates(const Model& model, const ContextTemplateOptions& o,
                                          const ProgressFn& progress) {
    std::vector<std::string> templates = {"{}"};
    long total = 0;
    for (const auto& lc : o.lengths) total += lc.second;
    const Transformer transformer(model);
    const auto start = model.tokenizer.encodeIds("The");
    uint64_t seed = o.seed;
    for (const auto& [length, count] : o.lengths) {
        for (int i = 0; i < count; ++i) {
            report(progress, {long(templates.size()) - 1, total, "context templates"});
            GenerateOptions g;
            g.maxNewTokens = length;
            g.sampling = {1.0f, o.topK, 1.0f, seed++};
            g.stopAtEos = true;
            const Generation gen = generate(transformer, start, g);
            std::string text = "The" + generatedText(model.tokenizer, gen);
            for (char& ch : text)
                if (ch == '{' || ch == '}' || ch == '\n') ch = ' ';
            templates.push_back(text + ". {}");
        }
    }
    report(progress, {total, total, "context templates"});
    return templates;
}

}  // namespace mwb
