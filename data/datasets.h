// The data-set formats of docs/datasets.md: known facts (known_1000.json schema)
// and CounterFact edit cases, plus plain-text corpora.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mwb {

struct KnownFact {
    int knownId = 0;
    std::string subject;
    std::string attribute;
    std::string templ;  // "{} is located in the city of"
    std::string prompt;
    std::string relationId;
};

struct CounterFactCase {
    int caseId = 0;
    std::string prompt;  // with "{}" for the subject
    std::string relationId;
    std::string subject;
    std::string targetNew;
    std::string targetTrue;
    std::vector<std::string> paraphrasePrompts;
    std::vector<std::string> neighborhoodPrompts;
    std::vector<std::string> attributePrompts;
    std::vector<std::string> generationPrompts;

    std::string rewritePrompt() const;  // prompt with the subject filled in
};

// `templ` with its first "{}" replaced by `text` (the schema's subject placeholder).
// Throws InvalidInput when the template has no "{}".
std::string fillTemplate(const std::string& templ, const std::string& text);

// Throw InvalidInput naming the file and the record for malformed data (not JSON,
// missing keys, a prompt that does not contain its subject, ...).
std::vector<KnownFact> loadKnownFacts(const std::filesystem::path& file);
std::vector<CounterFactCase> loadCounterFact(const std::filesystem::path& file);
// The same for a file's content already read (a job's rank 0 reads the file and sends
// its bytes to the other ranks); `file` names it in errors.
std::vector<KnownFact> parseKnownFacts(std::string_view text, const std::filesystem::path& file);
std::vector<CounterFactCase> parseCounterFact(std::string_view text, const std::filesystem::path& file);

// Whole file as a string (UTF-8 text corpora); throws InvalidInput if unreadable.
std::string readTextFile(const std::filesystem::path& file);

// Documents of a corpus: one per line, blank lines ignored.
std::vector<std::string> splitDocuments(const std::string& text);

}  // namespace mwb
