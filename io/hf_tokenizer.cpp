// Hugging Face tokenizer files <-> TokenizerSpec (see hf_tokenizer.h).
#include "io/hf_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "tokenizer/byte_level.h"
#include "tensor/errors.h"
#include "tensor/files.h"
#include "io/hf_config.h"

namespace mwb {

namespace fs = std::filesystem;

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // "▁"

bool isBytePiece(std::string_view s) {
    return s.size() == 6 && s.starts_with("<0x") && s[5] == '>' &&
           std::isxdigit(static_cast<unsigned char>(s[3])) &&
           std::isxdigit(static_cast<unsigned char>(s[4]));
}

// "<|endoftext|>": the pieces the byte_bpe tokenizer matches whole (see tokenizer.h).
bool isSpecialPiece(std::string_view s) {
    if (s.size() < 5 || !s.starts_with("<|") || !s.ends_with("|>")) return false;
    return std::all_of(s.begin() + 2, s.end() - 2, [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
}

std::string readText(const fs::path& file) {
    std::optional<std::string> text = tryReadFile(file);
    if (!text) throw ModelFormatError(file, "", "cannot be opened");
    return std::move(*text);
}

// Does any component (recursively through "Sequence"s) of this normalizer, pre-tokenizer or
// decoder satisfy `pred`?
template <class Pred>
bool anyComponent(const Json& j, const Pred& pred) {
    if (j.is_array())
        return std::any_of(j.begin(), j.end(),
                           [&](const Json& x) { return anyComponent(x, pred); });
    if (!j.is_object()) return false;
    if (pred(j)) return true;
    for (const char* key : {"normalizers", "pretokenizers", "decoders", "processors"})
        if (j.contains(key) && anyComponent(j[key], pred)) return true;
    return false;
}

bool hasType(const Json& j, const std::string& type) {
    return anyComponent(j, [&](const Json& c) { return c.value("type", "") == type; });
}

// Pieces by id from {piece: id} maps; ids must be 0..n-1 with no gap and no collision.
class VocabBuilder {
public:
    explicit VocabBuilder(fs::path file) : m_file(std::move(file)) {}
    void add(const std::string& piece, const Json& id) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT_MAX / 2)
            throw ModelFormatError(
                m_file, "",
                "gives piece \"" + printableBytes(piece) + "\" an id that is not a valid token id");
        const int i = id.get<int>();
        const auto [it, inserted] = m_byId.emplace(i, piece);
        if (!inserted && it->second != piece)
            throw ModelFormatError(m_file, "",
                                   "gives id " + std::to_string(i) + " to both \"" +
                                       printableBytes(it->second) + "\" and \"" +
                                       printableBytes(piece) + "\"");
    }
    std::vector<std::string> pieces() const {
        std::vector<std::string> out;
        for (const auto& [id, piece] : m_byId) {
            if (id != int(out.size()))
                throw ModelFormatError(m_file, "",
                                       "has no piece with id " + std::to_string(out.size()) +
                                           " (vocabulary ids must run from 0 without gaps)");
            out.push_back(piece);
        }
        if (out.empty()) throw ModelFormatError(m_file, "", "has an empty vocabulary");
        return out;
    }

private:
    fs::path m_file;
    std::map<int, std::string> m_byId;
};

// One merge "a b" or ["a", "b"] as its two pieces.
std::pair<std::string, std::string> mergePair(const fs::path& file, const Json& m) {
    if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t space = s.find(' ');
        if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
            throw ModelFormatError(file, "",
                                   "has merge \"" + printableBytes(s) +
                                       "\", which is not two pieces separated by one space");
        return {s.substr(0, space), s.substr(space + 1)};
    }
    if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) return {m[0], m[1]};
    throw ModelFormatError(file, "", "has a merge that is neither \"a b\" nor [\"a\", \"b\"]");
}

// Token strings in tokenizer_config.json are strings or {"content": ...}.
std::string tokenContent(const Json& j) {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"];
    return {};
}

// score = -(rank of the first merge that produces the piece). The scores are what the file
// format requires of sentencepiece_bpe; the tokenizer merges by the ranks themselves.
void scoresFromMerges(TokenizerSpec& spec,
                      const std::vector<std::pair<std::string, std::string>>& merges,
                      const fs::path& file) {
    std::unordered_map<std::string, int> idOf;
    for (int i = 0; i < int(spec.vocab.size()); ++i) idOf.emplace(spec.vocab[i], i);
    const float unset = 1.0f;
    spec.scores.assign(spec.vocab.size(), unset);
    for (size_t r = 0; r < merges.size(); ++r) {
        const auto& [left, right] = merges[r];
        const auto it = idOf.find(left + right);
        if (!idOf.contains(left) || !idOf.contains(right) || it == idOf.end())
            throw ModelFormatError(file, "model.merges",
                                   "has merge \"" + printableBytes(left) + " " +
                                       printableBytes(right) +
                                       "\" of pieces that are not in its vocabulary");
        if (spec.scores[it->second] == unset) spec.scores[it->second] = -float(r);
    }
    // Pieces no merge produces (single characters, bytes, control pieces) score below every
    // merged piece.
    for (float& score : spec.scores)
        if (score == unset) score = -float(merges.size());
}

std::string typeOf(const Json& j) { return j.is_object() ? j.value("type", "") : ""; }

// The components of a Sequence (its `listKey` array), or the component itself.
std::vector<Json> components(const Json& j, const char* listKey) {
    if (typeOf(j) != "Sequence") return {j};
    if (!j.contains(listKey) || !j[listKey].is_array()) return {};
    return {j[listKey].begin(), j[listKey].end()};
}

// "Replace" of the literal string `from` by `to`.
bool isReplace(const Json& c, std::string_view from, std::string_view to) {
    return typeOf(c) == "Replace" && c.contains("pattern") && c["pattern"].is_object() &&
           c["pattern"].value("String", std::string("\x01")) == from &&
           c.value("content", std::string("\x01")) == to;
}

// The normaliser and pre-tokenizer of tokenizer.json as TokenizerSpec fields. Anything this
// program would not reproduce exactly is refused, naming the key.
void readPipeline(const Json& j, TokenizerSpec& spec, const fs::path& file) {
    const Json norm = j.value("normalizer", Json());
    const Json pre = j.value("pre_tokenizer", Json());
    const Json& model = j["model"];
    const auto refuse = [&](const std::string& key, const std::string& what) {
        throw ModelFormatError(file, key, what + "; this program cannot reproduce it exactly");
    };
    const auto describe = [](const Json& c) {
        const std::string type = typeOf(c);
        return type.empty() ? std::string("a component without a type") : "a " + type + " step";
    };
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
        if (model.contains(key) && !model[key].is_null() && model[key] != "")
            refuse(std::string("model.") + key, "is set");
    if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"] != 0 &&
        model["dropout"] != 0.0)
        refuse("model.dropout", "is set (random merges)");
    spec.ignoreMerges = model.value("ignore_merges", false);

    if (spec.kind == TokenizerKind::ByteBpe) {
        for (const Json& c : components(norm, "normalizers")) {
            if (c.is_null()) continue;
            if (typeOf(c) != "NFC") refuse("normalizer", "is " + describe(c));
            spec.nfc = true;
        }
        const std::vector<Json> steps = components(pre, "pretokenizers");
        const auto byteLevel = [&](const Json& c, bool useRegex) {
            if (typeOf(c) != "ByteLevel") return false;
            if (c.value("add_prefix_space", false))
                refuse("pre_tokenizer.add_prefix_space", "is true (a space put before the text)");
            if (c.value("use_regex", true) != useRegex)
                refuse("pre_tokenizer.use_regex",
                       useRegex ? "is false without a Split before it" : "is true after a Split");
            return true;
        };
        if (steps.size() == 1 && byteLevel(steps[0], true)) {
            spec.preTokenizerPattern.clear();
        } else if (steps.size() == 2 && typeOf(steps[0]) == "Split" && byteLevel(steps[1], false)) {
            const Json& split = steps[0];
            if (!split.contains("pattern") || !split["pattern"].is_object() ||
                !split["pattern"].contains("Regex") || !split["pattern"]["Regex"].is_string())
                refuse("pre_tokenizer.pretokenizers[0].pattern", "is not a {\"Regex\": ...}");
            if (split.value("behavior", "") != "Isolated")
                refuse("pre_tokenizer.pretokenizers[0].behavior",
                       "is '" + split.value("behavior", "") + "', not Isolated");
            if (split.value("invert", false)) refuse("pre_tokenizer.pretokenizers[0].invert", "is true");
            const std::string pattern = split["pattern"]["Regex"];
            spec.preTokenizerPattern = pattern == kGpt2PreTokenPattern ? "" : pattern;
            try {
                PreTokenRegex check(spec.preTokenizerPattern);
            } catch (const InvalidInput& e) {
                throw ModelFormatError(file, "pre_tokenizer.pretokenizers[0].pattern.Regex", e.what());
            }
        } else {
            refuse("pre_tokenizer",
                   "is not ByteLevel with use_regex, nor a Split regex followed by ByteLevel");
        }
        return;
    }
    // SentencePiece style: the normaliser writes spaces as "▁", with or without a "▁" first.
    const std::vector<Json> steps = components(norm, "normalizers");
    const std::string mark(kSpaceMark);
    if (steps.size() == 1 && isReplace(steps[0], " ", mark)) {
        spec.addDummyPrefix = false;
    } else if (steps.size() == 2 && typeOf(steps[0]) == "Prepend" &&
               steps[0].value("prepend", "") == mark && isReplace(steps[1], " ", mark)) {
        spec.addDummyPrefix = true;
    } else {
        refuse("normalizer",
               norm.is_null() ? std::string("is null (spaces are not written as \"\xE2\x96\x81\")")
                              : "is not Replace(\" \", \"\xE2\x96\x81\"), optionally after Prepend(\"\xE2\x96\x81\")");
    }
    // Gemma's Split on " " finds nothing once the normaliser has replaced every space.
    const bool noOpSplit = typeOf(pre) == "Split" && pre.contains("pattern") &&
                           pre["pattern"].is_object() && pre["pattern"].value("String", "") == " ";
    if (!pre.is_null() && !noOpSplit) refuse("pre_tokenizer", "is " + describe(pre));
    if (!model.value("byte_fallback", false)) refuse("model.byte_fallback", "is false");
    if (model.contains("fuse_unk") && !model.value("fuse_unk", true)) refuse("model.fuse_unk", "is false");
}

// tokenizer.json's added_tokens; each must already be in the vocabulary with its id.
std::vector<AddedToken> readAddedTokens(const Json& list, const TokenizerSpec& spec,
                                        const fs::path& file) {
    std::vector<AddedToken> out;
    for (size_t i = 0; i < list.size(); ++i) {
        const Json& t = list[i];
        const std::string key = "added_tokens[" + std::to_string(i) + "]";
        if (!t.is_object() || !t.contains("content") || !t["content"].is_string() ||
            !t.contains("id") || !t["id"].is_number_integer())
            throw ModelFormatError(file, key, "is not an object with \"id\" and \"content\"");
        for (const char* flag : {"lstrip", "rstrip", "single_word"})
            if (t.value(flag, false))
                throw ModelFormatError(file, key + "." + flag,
                                       "is true; this program matches added tokens only as they "
                                       "are written");
        AddedToken a;
        a.id = t["id"].get<int>();
        a.special = t.value("special", false);
        a.normalized = t.value("normalized", !a.special);
        if (t["content"].get<std::string>().empty())
            throw ModelFormatError(file, key + ".content", "is empty");
        MWB_CHECK(a.id >= 0 && a.id < int(spec.vocab.size()) && spec.vocab[a.id] == t["content"]);
        out.push_back(a);
    }
    return out;
}

TokenizerSpec fromTokenizerJson(const fs::path& file,
                                std::vector<std::pair<std::string, std::string>>& merges) {
    const Json j = readJsonFile(file);
    if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
        throw ModelFormatError(file, "", "has no \"model\" object");
    const Json& model = j["model"];
    const std::string type = model.value("type", "BPE");
    if (type != "BPE")
        throw ModelFormatError(file, "model.type",
                               "is '" + type + "'; only BPE tokenizers can be imported");
    if (!model.contains("vocab") || !model["vocab"].is_object())
        throw ModelFormatError(file, "model.vocab", "is missing or not an object");
    VocabBuilder vocab(file);
    for (const auto& [piece, id] : model["vocab"].items()) vocab.add(piece, id);
    if (j.contains("added_tokens") && !j["added_tokens"].is_array())
        throw ModelFormatError(file, "added_tokens", "is not an array");
    const Json added = j.value("added_tokens", Json::array());
    for (const Json& t : added)
        if (t.is_object() && t.contains("content") && t["content"].is_string() && t.contains("id"))
            vocab.add(t["content"], t["id"]);
    if (model.contains("merges")) {
        if (!model["merges"].is_array())
            throw ModelFormatError(file, "model.merges", "is not an array");
        for (const Json& m : model["merges"]) merges.push_back(mergePair(file, m));
    }
    TokenizerSpec spec;
    spec.vocab = vocab.pieces();
    const Json pre = j.value("pre_tokenizer", Json()), decoder = j.value("decoder", Json());
    if (hasType(pre, "ByteLevel") || hasType(decoder, "ByteLevel")) {
        spec.kind = TokenizerKind::ByteBpe;
    } else if (model.value("byte_fallback", false) || hasType(pre, "Metaspace") ||
               hasType(decoder, "Metaspace") || hasType(decoder, "ByteFallback")) {
        spec.kind = TokenizerKind::SentencePieceBpe;
    } else {
        throw ModelFormatError(file, "",
                               "is neither a byte-level BPE nor a SentencePiece-style BPE with "
                               "byte fallback; this program cannot reproduce it");
    }
    readPipeline(j, spec, file);
    spec.addedTokens = readAddedTokens(added, spec, file);
    return spec;
}

TokenizerSpec fromVocabAndMerges(const fs::path& dir,
                                 std::vector<std::pair<std::string, std::string>>& merges) {
    const fs::path vocabFile = dir / "vocab.json", mergesFile = dir / "merges.txt";
    const Json v = readJsonFile(vocabFile);
    if (!v.is_object()) throw ModelFormatError(vocabFile, "", "is not a JSON object {piece: id}");
    VocabBuilder vocab(vocabFile);
    for (const auto& [piece, id] : v.items()) vocab.add(piece, id);
    if (fs::exists(dir / "added_tokens.json")) {
        const Json added = readJsonFile(dir / "added_tokens.json");
        if (added.is_object())
            for (const auto& [piece, id] : added.items()) vocab.add(piece, id);
    }
    const std::string text = readText(mergesFile);
    size_t lineNo = 0;
    for (size_t pos = 0; pos < text.size(); ++lineNo) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(pos, end - pos);
        pos = end + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || (lineNo == 0 && line.starts_with("#version"))) continue;
        merges.push_back(mergePair(mergesFile, Json(line)));
    }
    TokenizerSpec spec;
    spec.kind = TokenizerKind::ByteBpe;
    spec.vocab = vocab.pieces();
    return spec;
}

// BOS/EOS ids and add_bos from tokenizer_config.json and the post-processor.
void readSpecialTokens(const fs::path& dir, TokenizerSpec& spec, int bosId, int eosId) {
    const auto idOf = [&](const std::string& piece) {
        const auto it = std::find(spec.vocab.begin(), spec.vocab.end(), piece);
        return piece.empty() || it == spec.vocab.end() ? -1 : int(it - spec.vocab.begin());
    };
    Json config;
    if (fs::exists(dir / "tokenizer_config.json"))
        config = readJsonFile(dir / "tokenizer_config.json");
    if (!config.is_object()) config = Json::object();
    spec.bosId = bosId >= 0 ? bosId : idOf(tokenContent(config.value("bos_token", Json())));
    spec.eosId = eosId >= 0 ? eosId : idOf(tokenContent(config.value("eos_token", Json())));
    if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean()) {
        spec.addBos = config["add_bos_token"].get<bool>();
    } else {
        // A TemplateProcessing post-processor that starts with a special token adds BOS.
        bool templateBos = false, hasTemplate = false;
        if (fs::exists(dir / "tokenizer.json")) {
            const Json j = readJsonFile(dir / "tokenizer.json");
            const Json post = j.value("post_processor", Json());
            anyComponent(post, [&](const Json& c) {
                if (c.value("type", "") != "TemplateProcessing" || !c.contains("single") ||
                    !c["single"].is_array())
                    return false;
                hasTemplate = true;
                templateBos = !c["single"].empty() && c["single"][0].contains("SpecialToken");
                return true;
            });
        }
        spec.addBos = hasTemplate ? templateBos : spec.kind == TokenizerKind::SentencePieceBpe;
    }
    if (spec.bosId < 0) spec.addBos = false;
}

// Merges for a SentencePiece-style vocabulary: every split of every mergeable piece into two
// vocabulary pieces, the pieces by decreasing score (ties: lower id first), as Hugging Face's
// SentencePiece converter does.
std::vector<std::pair<std::string, std::string>> mergesFromScores(const TokenizerSpec& spec) {
    std::unordered_map<std::string, int> idOf;
    for (int i = 0; i < int(spec.vocab.size()); ++i) idOf.emplace(spec.vocab[i], i);
    const auto mergeable = [&](int id) {
        return !isBytePiece(spec.vocab[id]) && id != spec.bosId && id != spec.eosId &&
               spec.vocab[id] != "<unk>";
    };
    std::vector<int> order;
    for (int i = 0; i < int(spec.vocab.size()); ++i)
        if (mergeable(i)) order.push_back(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return spec.scores[a] > spec.scores[b]; });
    std::vector<std::pair<std::string, std::string>> merges;
    for (const int id : order) {
        const std::string& piece = spec.vocab[id];
        for (size_t pos = 0; pos < piece.size();) {
            pos += std::max(1, utf8CharLength(piece, pos));
            if (pos >= piece.size()) break;
            const auto left = idOf.find(piece.substr(0, pos)), right = idOf.find(piece.substr(pos));
            if (left != idOf.end() && right != idOf.end() && mergeable(left->second) &&
                mergeable(right->second))
                merges.emplace_back(left->first, right->first);
        }
    }
    return merges;
}

OrderedJson addedToken(int id, const std::string& content, bool normalized, bool special) {
    return {{"id", id},        {"content", content}, {"single_word", false},
            {"lstrip", false}, {"rstrip", false},    {"normalized", normalized},
            {"special", special}};
}

OrderedJson templateProcessing(const TokenizerSpec& spec) {
    const std::string bos = spec.vocab[spec.bosId];
    const OrderedJson special = {{"SpecialToken", {{"id", bos}, {"type_id", 0}}}};
    const auto seq = [](const char* id, int typeId) {
        return OrderedJson{{"Sequence", {{"id", id}, {"type_id", typeId}}}};
    };
    return {{"type", "TemplateProcessing"},
            {"single", {special, seq("A", 0)}},
            {"pair", {special, seq("A", 0), special, seq("B", 1)}},
            {"special_tokens", {{bos, {{"id", bos}, {"ids", {spec.bosId}}, {"tokens", {bos}}}}}}};
}

OrderedJson tokenizerJson(const TokenizerSpec& spec,
                          const std::vector<std::pair<std::string, std::string>>& merges) {
    const bool byteLevel = spec.kind == TokenizerKind::ByteBpe;
    const bool spaceInMerge = std::any_of(merges.begin(), merges.end(), [](const auto& m) {
        return m.first.find(' ') != std::string::npos || m.second.find(' ') != std::string::npos;
    });
    OrderedJson vocab = OrderedJson::object(), mergeList = OrderedJson::array(),
                added = OrderedJson::array();
    for (int i = 0; i < int(spec.vocab.size()); ++i) {
        vocab[spec.vocab[i]] = i;
        const bool control =
            i == spec.bosId || i == spec.eosId || (!byteLevel && spec.vocab[i] == "<unk>");
        if (!spec.addedTokens && (control || (byteLevel && isSpecialPiece(spec.vocab[i]))))
            added.push_back(addedToken(i, spec.vocab[i], byteLevel, true));
    }
    if (spec.addedTokens)
        for (const AddedToken& t : *spec.addedTokens)
            added.push_back(addedToken(t.id, spec.vocab[t.id], t.normalized, t.special));
    // Newer tokenizers (>= 0.20) also read merges as pairs, which allows pieces with spaces.
    for (const auto& [l, r] : merges)
        mergeList.push_back(spaceInMerge ? OrderedJson::array({l, r}) : OrderedJson(l + " " + r));
    OrderedJson j;
    j["version"] = "1.0";
    j["truncation"] = nullptr;
    j["padding"] = nullptr;
    j["added_tokens"] = added;
    const OrderedJson byteLevelStep = {{"type", "ByteLevel"},
                                       {"add_prefix_space", false},
                                       {"trim_offsets", true},
                                       {"use_regex", true}};
    const bool bos = spec.addBos && spec.bosId >= 0;
    if (byteLevel) {
        j["normalizer"] = spec.nfc ? OrderedJson{{"type", "NFC"}} : OrderedJson(nullptr);
        if (spec.preTokenizerPattern.empty()) {
            j["pre_tokenizer"] = byteLevelStep;
        } else {
            OrderedJson noRegex = byteLevelStep;
            noRegex["use_regex"] = false;
            j["pre_tokenizer"] = {{"type", "Sequence"},
                                  {"pretokenizers",
                                   {{{"type", "Split"},
                                     {"pattern", {{"Regex", spec.preTokenizerPattern}}},
                                     {"behavior", "Isolated"},
                                     {"invert", false}},
                                    noRegex}}};
        }
        j["post_processor"] = bos ? templateProcessing(spec) : byteLevelStep;
        j["decoder"] = byteLevelStep;
    } else {
        const std::string mark(kSpaceMark);
        OrderedJson steps = OrderedJson::array();
        if (spec.addDummyPrefix) steps.push_back({{"type", "Prepend"}, {"prepend", mark}});
        steps.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", mark}});
        j["normalizer"] = {{"type", "Sequence"}, {"normalizers", steps}};
        j["pre_tokenizer"] = nullptr;
        j["post_processor"] = bos ? templateProcessing(spec) : OrderedJson(nullptr);
        OrderedJson decoders = {
            {{"type", "Replace"}, {"pattern", {{"String", mark}}}, {"content", " "}},
            {{"type", "ByteFallback"}},
            {{"type", "Fuse"}}};
        if (spec.addDummyPrefix)
            decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
        j["decoder"] = {{"type", "Sequence"}, {"decoders", decoders}};
    }
    const bool hasUnk =
        !byteLevel && std::find(spec.vocab.begin(), spec.vocab.end(), "<unk>") != spec.vocab.end();
    j["model"] = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", hasUnk ? OrderedJson("<unk>") : OrderedJson(nullptr)},
                  {"continuing_subword_prefix", byteLevel ? OrderedJson("") : OrderedJson(nullptr)},
                  {"end_of_word_suffix", byteLevel ? OrderedJson("") : OrderedJson(nullptr)},
                  {"fuse_unk", !byteLevel},
                  {"byte_fallback", !byteLevel},
                  {"ignore_merges", spec.ignoreMerges},
                  {"vocab", vocab},
                  {"merges", mergeList}};
    return j;
}

}  // namespace

TokenizerSpec readHfTokenizer(const fs::path& dir, int bosId, int eosId) {
    std::vector<std::pair<std::string, std::string>> merges;
    TokenizerSpec spec;
    fs::path source = dir / "tokenizer.json";
    if (fs::exists(source)) {
        spec = fromTokenizerJson(source, merges);
    } else if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt")) {
        source = dir / "merges.txt";
        spec = fromVocabAndMerges(dir, merges);
    } else {
        throw ModelFormatError(
            dir, "", "has no tokenizer: neither tokenizer.json nor vocab.json with merges.txt");
    }
    readSpecialTokens(dir, spec, bosId, eosId);
    for (const auto& [l, r] : merges) {
        if (l.find(' ') != std::string::npos || r.find(' ') != std::string::npos)
            throw ModelFormatError(source, "model.merges",
                                   "has a merge of pieces with a space, which this program's "
                                   "merge list cannot hold");
        spec.merges.push_back(l + " " + r);
    }
    if (spec.kind == TokenizerKind::SentencePieceBpe) scoresFromMerges(spec, merges, source);
    try {
        Tokenizer check(spec);  // the same checks a model file's tokenizer gets
    } catch (const Error& e) {
        throw ModelFormatError(source, "",
                               std::string("does not give a usable tokenizer: ") + e.what());
    }
    return spec;
}

std::vector<TextFile> hfTokenizerFiles(const TokenizerSpec& spec) {
    std::unordered_map<std::string, int> seen;
    for (int i = 0; i < int(spec.vocab.size()); ++i) {
        const std::string& piece = spec.vocab[i];
        for (size_t pos = 0; pos < piece.size(); pos += size_t(utf8CharLength(piece, pos)))
            if (utf8CharLength(piece, pos) == 0)
                throw InvalidInput("piece " + std::to_string(i) + " (" + quote(printableBytes(piece)) +
                                   ") is not valid UTF-8, which tokenizer.json cannot hold");
        if (const auto [it, inserted] = seen.emplace(spec.vocab[i], i); !inserted)
            throw InvalidInput("the vocabulary holds " + quote(printableBytes(spec.vocab[i])) +
                               " twice (ids " + std::to_string(it->second) + " and " +
                               std::to_string(i) + "); a Hugging Face vocabulary cannot");
    }
    const bool byteLevel = spec.kind == TokenizerKind::ByteBpe;
    std::vector<std::pair<std::string, std::string>> merges;
    if (byteLevel || !spec.merges.empty()) {
        for (size_t r = 0; r < spec.merges.size(); ++r) {
            const std::string& m = spec.merges[r];
            if (r == 0 && m.starts_with("#version")) continue;
            const size_t space = m.find(' ');
            merges.emplace_back(m.substr(0, space), m.substr(space + 1));
        }
    } else {
        merges = mergesFromScores(spec);
    }
    std::vector<TextFile> files;
    files.push_back({"tokenizer.json", tokenizerJson(spec, merges).dump(2) + "\n"});
    const auto piece = [&](int id) {
        return id >= 0 ? OrderedJson(spec.vocab[id]) : OrderedJson(nullptr);
    };
    OrderedJson config;
    config["tokenizer_class"] = byteLevel ? "GPT2Tokenizer" : "LlamaTokenizerFast";
    config["add_bos_token"] = spec.addBos;
    config["add_eos_token"] = false;
    config["bos_token"] = piece(spec.bosId);
    config["eos_token"] = piece(spec.eosId);
    config["unk_token"] =
        byteLevel ? piece(spec.eosId) : OrderedJson(seen.contains("<unk>") ? "<unk>" : nullptr);
    config["clean_up_tokenization_spaces"] = false;
    files.push_back({"tokenizer_config.json", config.dump(2) + "\n"});
    if (byteLevel) {
        OrderedJson vocab = OrderedJson::object();
        for (int i = 0; i < int(spec.vocab.size()); ++i) vocab[spec.vocab[i]] = i;
        std::string text = "#version: 0.2\n";
        for (const auto& [l, r] : merges) text += l + " " + r + "\n";
        files.push_back({"vocab.json", vocab.dump() + "\n"});
        files.push_back({"merges.txt", text});
    }
    return files;
}

}  // namespace mwb
