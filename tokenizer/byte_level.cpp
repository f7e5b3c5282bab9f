// GPT-2 byte-level helpers: bytes_to_unicode, UTF-8 scanning, and the pre-tokenisation
// regex run through PCRE2 (UTF + UCP so \p{L}, \p{N} and \s are Unicode-aware; JIT when
// the library has it).
#include "tokenizer/byte_level.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <memory>
#include <string>

#include "tensor/errors.h"

namespace mwb {
namespace {

void appendUtf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += char(c);
    } else if (c < 0x800) {
        out += char(0xC0 | (c >> 6));
        out += char(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += char(0xE0 | (c >> 12));
        out += char(0x80 | ((c >> 6) & 0x3F));
        out += char(0x80 | (c & 0x3F));
    } else {
        out += char(0xF0 | (c >> 18));
        out += char(0x80 | ((c >> 12) & 0x3F));
        out += char(0x80 | ((c >> 6) & 0x3F));
        out += char(0x80 | (c & 0x3F));
    }
}

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes (! .. ~, ¡ .. ¬, ® .. ÿ) map to
// themselves, in that order; the other 68 bytes, in increasing order, map to U+0100 onwards.
struct ByteTables {
    std::array<unsigned char, 256> order{};
    std::array<char32_t, 256> charOf{};
    std::array<std::string, 256> utf8Of;

    ByteTables() {
        auto printable = [](int b) {
            return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        };
        int n = 0;
        for (int b = 0; b < 256; ++b)
            if (printable(b)) {
                order[n++] = static_cast<unsigned char>(b);
                charOf[b] = char32_t(b);
            }
        int extra = 0;
        for (int b = 0; b < 256; ++b)
            if (!printable(b)) {
                order[n++] = static_cast<unsigned char>(b);
                charOf[b] = char32_t(256 + extra++);
            }
        for (int b = 0; b < 256; ++b) appendUtf8(utf8Of[b], charOf[b]);
    }
};

const ByteTables& tables() {
    static const ByteTables t;
    return t;
}

// Inverse of the mapping for the code points it uses (all below U+0144), -1 elsewhere.
int byteOfChar(char32_t c) {
    static const std::array<int, 0x144> inverse = [] {
        std::array<int, 0x144> inv{};
        inv.fill(-1);
        for (int b = 0; b < 256; ++b) inv[tables().charOf[b]] = b;
        return inv;
    }();
    return c < inverse.size() ? inverse[c] : -1;
}

char32_t decodeUtf8(std::string_view s, std::size_t pos, int len) {
    const auto u = [&](std::size_t i) { return char32_t(static_cast<unsigned char>(s[pos + i])); };
    switch (len) {
        case 1: return u(0);
        case 2: return ((u(0) & 0x1F) << 6) | (u(1) & 0x3F);
        case 3: return ((u(0) & 0x0F) << 12) | ((u(1) & 0x3F) << 6) | (u(2) & 0x3F);
        default: return ((u(0) & 0x07) << 18) | ((u(1) & 0x3F) << 12) | ((u(2) & 0x3F) << 6) | (u(3) & 0x3F);
    }
}

struct MatchDataDeleter {
    void operator()(pcre2_match_data* md) const { pcre2_match_data_free(md); }
};

}  // namespace

const char* const kGpt2PreTokenPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// The compiled regex (pcre2_code is read-only during matching, so threads share it).
struct PreTokenRegex::Code {
    pcre2_code* code = nullptr;
    ~Code() { pcre2_code_free(code); }
};

namespace {

std::shared_ptr<const PreTokenRegex::Code> compileRegex(const std::string& source);

}  // namespace

PreTokenRegex::PreTokenRegex(const std::string& pattern) {
    // GPT-2's regex is compiled once for all tokenizers that use it.
    static const std::shared_ptr<const Code> gpt2 = compileRegex(kGpt2PreTokenPattern);
    m_code = pattern.empty() || pattern == kGpt2PreTokenPattern ? gpt2 : compileRegex(pattern);
}

namespace {

std::shared_ptr<const PreTokenRegex::Code> compileRegex(const std::string& source) {
    auto code = std::make_shared<PreTokenRegex::Code>();
    int error = 0;
    PCRE2_SIZE errorOffset = 0;
    code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(),
                               PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error,
                               &errorOffset, nullptr);
    if (code->code == nullptr) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error, message, sizeof message);
        throw InvalidInput("The pre-tokenisation regex " + quote(source) + " cannot be compiled: " +
                           reinterpret_cast<const char*>(message) + " at offset " +
                           std::to_string(errorOffset) + ".");
    }
    uint32_t haveJit = 0;
    pcre2_config(PCRE2_CONFIG_JIT, &haveJit);
    if (haveJit) pcre2_jit_compile(code->code, PCRE2_JIT_COMPLETE);  // else the interpreter runs
    return code;
}

}  // namespace

void PreTokenRegex::split(std::string_view text, std::size_t begin, std::size_t end,
                          const std::function<void(std::size_t, std::size_t)>& fn) const {
    if (begin >= end) return;
    const pcre2_code* code = m_code->code;
    std::unique_ptr<pcre2_match_data, MatchDataDeleter> md(
        pcre2_match_data_create_from_pattern(code, nullptr));
    MWB_CHECK(md != nullptr);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    std::size_t gap = begin;  // start of the text not yet passed to fn
    std::size_t pos = begin;  // where the next search starts
    while (pos < end) {
        const int rc = pcre2_match(code, subject, end, pos, 0, md.get(), nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) throw Error("the pre-tokenisation regex failed (PCRE2 error " +
                                std::to_string(rc) + ")");
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
        MWB_CHECK(ov[1] >= ov[0] && ov[0] >= pos);
        if (ov[1] == ov[0]) {
            // An empty match splits nothing off; the search goes on one character later.
            pos = std::min<std::size_t>(end, ov[0] + std::max(1, utf8CharLength(text, ov[0])));
            continue;
        }
        if (ov[0] > gap) fn(gap, ov[0]);  // what the regex skipped (e.g. invalid UTF-8)
        fn(ov[0], ov[1]);
        gap = pos = ov[1];
    }
    if (gap < end) fn(gap, end);
}

namespace {

const PreTokenRegex& gpt2Regex() {
    static const PreTokenRegex regex;
    return regex;
}

}  // namespace

const std::array<std::string, 256>& byteToUnicode() { return tables().utf8Of; }

const std::array<unsigned char, 256>& gpt2ByteOrder() { return tables().order; }

int utf8CharLength(std::string_view s, std::size_t pos) {
    const auto at = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = at(pos);
    if (c < 0x80) return 1;
    int len = 0;
    char32_t minValue = 0;
    if ((c & 0xE0) == 0xC0) { len = 2; minValue = 0x80; }
    else if ((c & 0xF0) == 0xE0) { len = 3; minValue = 0x800; }
    else if ((c & 0xF8) == 0xF0) { len = 4; minValue = 0x10000; }
    else return 0;
    if (pos + len > s.size()) return 0;
    for (int i = 1; i < len; ++i)
        if ((at(pos + i) & 0xC0) != 0x80) return 0;
    const char32_t cp = decodeUtf8(s, pos, len);
    if (cp < minValue || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

bool isValidUtf8(std::string_view s) {
    for (std::size_t pos = 0; pos < s.size();) {
        const int len = utf8CharLength(s, pos);
        if (len == 0) return false;
        pos += std::size_t(len);
    }
    return true;
}

std::string byteLevelDecode(std::string_view piece) {
    std::string out;
    out.reserve(piece.size());
    std::size_t pos = 0;
    while (pos < piece.size()) {
        const int len = utf8CharLength(piece, pos);
        if (len == 0) {  // not UTF-8: keep the byte
            out += piece[pos++];
            continue;
        }
        const int b = byteOfChar(decodeUtf8(piece, pos, len));
        if (b >= 0) out += char(b);
        else out.append(piece.substr(pos, len));
        pos += len;
    }
    return out;
}

std::string byteLevelEncode(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char b : bytes) out += tables().utf8Of[b];
    return out;
}

void forEachGpt2PreToken(std::string_view text, const std::vector<std::string>& specials,
                         const PreTokenFn& fn) {
    const auto plain = [&](std::size_t begin, std::size_t end) { fn(begin, end, -1); };
    std::size_t segment = 0;  // start of the text not yet split
    for (std::size_t pos = 0; pos < text.size() && !specials.empty();) {
        int found = -1;
        for (std::size_t i = 0; i < specials.size(); ++i) {
            const std::string& s = specials[i];
            if (!s.empty() && text.compare(pos, s.size(), s) == 0 &&
                (found < 0 || s.size() > specials[found].size()))
                found = static_cast<int>(i);
        }
        if (found < 0) {
            ++pos;
            continue;
        }
        gpt2Regex().split(text, segment, pos, plain);
        fn(pos, pos + specials[found].size(), found);
        pos += specials[found].size();
        segment = pos;
    }
    gpt2Regex().split(text, segment, text.size(), plain);
}

}  // namespace mwb
