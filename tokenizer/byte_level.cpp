// GPT-2 byte-level helpers: bytes_to_unicode, UTF-8 scanning, and the pre-tokenisation
// regex run through PCRE2 (UTF + UCP so \p{L}, \p{N} and \s are Unicode-aware; JIT when
// the library has it).
#include "tokenizer/byte_level.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

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

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// The compiled regex, shared by all threads (pcre2_code is read-only during matching).
class Gpt2Regex {
public:
    Gpt2Regex() {
        int error = 0;
        PCRE2_SIZE errorOffset = 0;
        m_code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kGpt2Pattern), PCRE2_ZERO_TERMINATED,
                               PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error,
                               &errorOffset, nullptr);
        MWB_CHECK(m_code != nullptr);
        uint32_t haveJit = 0;
        pcre2_config(PCRE2_CONFIG_JIT, &haveJit);
        if (haveJit) pcre2_jit_compile(m_code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter
    }
    ~Gpt2Regex() { pcre2_code_free(m_code); }
    Gpt2Regex(const Gpt2Regex&) = delete;
    Gpt2Regex& operator=(const Gpt2Regex&) = delete;
    const pcre2_code* code() const { return m_code; }

private:
    pcre2_code* m_code = nullptr;
};

const Gpt2Regex& gpt2Regex() {
    static const Gpt2Regex regex;
    return regex;
}

struct MatchDataDeleter {
    void operator()(pcre2_match_data* md) const { pcre2_match_data_free(md); }
};

// Regex-split text[begin, end) (no special tokens inside).
void splitByRegex(std::string_view text, std::size_t begin, std::size_t end,
                  pcre2_match_data* md, const PreTokenFn& fn) {
    const pcre2_code* code = gpt2Regex().code();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    std::size_t pos = begin;
    while (pos < end) {
        const int rc = pcre2_match(code, subject, end, pos, 0, md, nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) {
            fn(pos, end, -1);  // only invalid UTF-8 is left
            return;
        }
        if (rc < 0) throw Error("the GPT-2 pre-tokenisation regex failed (PCRE2 error " +
                                std::to_string(rc) + ")");
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        MWB_CHECK(ov[1] > ov[0] && ov[0] >= pos);
        if (ov[0] > pos) fn(pos, ov[0], -1);  // invalid UTF-8 the regex skipped
        fn(ov[0], ov[1], -1);
        pos = ov[1];
    }
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
    std::unique_ptr<pcre2_match_data, MatchDataDeleter> md(
        pcre2_match_data_create_from_pattern(gpt2Regex().code(), nullptr));
    MWB_CHECK(md != nullptr);
    std::size_t segment = 0;  // start of the text not yet split
    if (!specials.empty()) {
        std::size_t pos = 0;
        while ((pos = text.find("<|", pos)) != std::string_view::npos) {
            int found = -1;
            for (std::size_t i = 0; i < specials.size(); ++i) {
                const std::string& s = specials[i];
                if (text.compare(pos, s.size(), s) == 0 &&
                    (found < 0 || s.size() > specials[found].size()))
                    found = static_cast<int>(i);
            }
            if (found < 0) {
                ++pos;
                continue;
            }
            splitByRegex(text, segment, pos, md.get(), fn);
            fn(pos, pos + specials[found].size(), found);
            pos += specials[found].size();
            segment = pos;
        }
    }
    splitByRegex(text, segment, text.size(), md.get(), fn);
}

}  // namespace mwb
