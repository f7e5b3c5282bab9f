#include "data/datasets.h"

#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tensor/errors.h"
#include "tensor/files.h"

namespace mwb {

namespace {

nlohmann::json parseJsonText(std::string_view text, const std::filesystem::path& file) {
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw InvalidInput(file.string() + ": not valid JSON (" + e.what() + ")");
    }
}

template <typename T>
T field(const nlohmann::json& record, const char* key, const std::filesystem::path& file, size_t index) {
    if (!record.is_object() || !record.contains(key))
        throw InvalidInput(file.string() + ": record " + std::to_string(index) + " has no " + quote(key));
    try {
        return record.at(key).get<T>();
    } catch (const nlohmann::json::exception&) {
        throw InvalidInput(file.string() + ": record " + std::to_string(index) + " has a " + quote(key) +
                           " of the wrong type");
    }
}

}  // namespace

std::string fillTemplate(const std::string& templ, const std::string& text) {
    const auto at = templ.find("{}");
    if (at == std::string::npos) throw InvalidInput("the template " + quote(templ) + " has no {}");
    return templ.substr(0, at) + text + templ.substr(at + 2);
}

std::string CounterFactCase::rewritePrompt() const { return fillTemplate(prompt, subject); }

std::vector<KnownFact> loadKnownFacts(const std::filesystem::path& file) {
    return parseKnownFacts(readTextFile(file), file);
}

std::vector<KnownFact> parseKnownFacts(std::string_view text, const std::filesystem::path& file) {
    const auto j = parseJsonText(text, file);
    if (!j.is_array()) throw InvalidInput(file.string() + ": expected a JSON array of facts");
    std::vector<KnownFact> facts;
    for (size_t i = 0; i < j.size(); ++i) {
        const auto& r = j[i];
        KnownFact f;
        f.knownId = r.contains("known_id") ? field<int>(r, "known_id", file, i) : static_cast<int>(i);
        f.subject = field<std::string>(r, "subject", file, i);
        f.attribute = field<std::string>(r, "attribute", file, i);
        f.prompt = field<std::string>(r, "prompt", file, i);
        if (r.contains("template")) f.templ = field<std::string>(r, "template", file, i);
        if (r.contains("relation_id")) f.relationId = field<std::string>(r, "relation_id", file, i);
        if (f.subject.empty() || f.prompt.find(f.subject) == std::string::npos)
            throw InvalidInput(file.string() + ": record " + std::to_string(i) + ": the subject " +
                               quote(f.subject) + " is not in the prompt " + quote(f.prompt));
        facts.push_back(std::move(f));
    }
    return facts;
}

std::vector<CounterFactCase> loadCounterFact(const std::filesystem::path& file) {
    return parseCounterFact(readTextFile(file), file);
}

std::vector<CounterFactCase> parseCounterFact(std::string_view text, const std::filesystem::path& file) {
    const auto j = parseJsonText(text, file);
    if (!j.is_array()) throw InvalidInput(file.string() + ": expected a JSON array of edit cases");
    std::vector<CounterFactCase> cases;
    for (size_t i = 0; i < j.size(); ++i) {
        const auto& r = j[i];
        CounterFactCase c;
        c.caseId = r.contains("case_id") ? field<int>(r, "case_id", file, i) : static_cast<int>(i);
        const auto rw = field<nlohmann::json>(r, "requested_rewrite", file, i);
        c.prompt = field<std::string>(rw, "prompt", file, i);
        c.subject = field<std::string>(rw, "subject", file, i);
        if (rw.contains("relation_id")) c.relationId = field<std::string>(rw, "relation_id", file, i);
        c.targetNew = field<std::string>(field<nlohmann::json>(rw, "target_new", file, i), "str", file, i);
        c.targetTrue = field<std::string>(field<nlohmann::json>(rw, "target_true", file, i), "str", file, i);
        auto list = [&](const char* key) {
            return r.contains(key) ? field<std::vector<std::string>>(r, key, file, i) : std::vector<std::string>{};
        };
        c.paraphrasePrompts = list("paraphrase_prompts");
        c.neighborhoodPrompts = list("neighborhood_prompts");
        c.attributePrompts = list("attribute_prompts");
        c.generationPrompts = list("generation_prompts");
        if (c.prompt.find("{}") == std::string::npos)
            throw InvalidInput(file.string() + ": case " + std::to_string(c.caseId) + ": the prompt " +
                               quote(c.prompt) + " has no {} for the subject");
        cases.push_back(std::move(c));
    }
    return cases;
}

std::string readTextFile(const std::filesystem::path& file) {
    std::optional<std::string> text = tryReadFile(file);
    if (!text) throw InvalidInput(file.string() + ": cannot open the file");
    return std::move(*text);
}

std::vector<std::string> splitDocuments(const std::string& text) {
    std::vector<std::string> docs;
    std::stringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (line.find_first_not_of(" \t\r") != std::string::npos) docs.push_back(line);
    return docs;
}

}  // namespace mwb
