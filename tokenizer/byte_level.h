// Pieces of GPT-2's byte-level BPE shared by the tokenizer and the trainer: the
// bytes-to-unicode mapping, UTF-8 scanning and the pre-tokenisation regex.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mwb {

// The UTF-8 of the printable character GPT-2 writes for each byte ("Ġ" for 0x20, "!" for 0x21).
const std::array<std::string, 256>& byteToUnicode();
// Bytes in the order GPT-2's vocabulary lists them: token id i (0..255) is byte gpt2ByteOrder()[i].
const std::array<unsigned char, 256>& gpt2ByteOrder();
// The bytes a byte-level vocabulary string stands for; characters outside the mapping
// (e.g. in hand-written special tokens) stay as their UTF-8.
std::string byteLevelDecode(std::string_view piece);
// The byte-level vocabulary string of some bytes ("Ġthe" for " the").
std::string byteLevelEncode(std::string_view bytes);

// Length of the valid UTF-8 character starting at s[pos] (1..4), or 0 when the bytes there
// are not valid UTF-8 (stray continuation byte, overlong form, surrogate, > U+10FFFF).
int utf8CharLength(std::string_view s, std::size_t pos);
// True when all of s is valid UTF-8 (utf8CharLength's rules).
bool isValidUtf8(std::string_view s);

// GPT-2's pre-tokenisation regex, as tokenizer.json spells it in a Split pre-tokenizer.
extern const char* const kGpt2PreTokenPattern;

// A byte-level pre-tokenisation regex compiled once with PCRE2 (UTF + UCP, so \p{L}, \p{N}
// and \s are Unicode-aware; JIT when the library has it). Thread-safe for concurrent use;
// copies share the compiled code.
class PreTokenRegex {
public:
    // An empty pattern means GPT-2's. Throws InvalidInput when PCRE2 cannot compile it.
    explicit PreTokenRegex(const std::string& pattern = {});
    // Calls fn(begin, end) for consecutive byte ranges covering text[begin, end): each match
    // of the regex and each stretch between matches (Hugging Face's Split with behavior
    // Isolated). A run of invalid UTF-8 bytes, which the regex cannot match, comes out as one
    // range of its own.
    void split(std::string_view text, std::size_t begin, std::size_t end,
               const std::function<void(std::size_t, std::size_t)>& fn) const;

    struct Code;

private:
    std::shared_ptr<const Code> m_code;
};

// Calls fn(begin, end, special) for consecutive byte ranges covering all of `text`:
// occurrences of the `specials` strings (the longest match wins) come out whole with
// special = their index; the text between them is split by GPT-2's pre-tokenisation regex
// ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+), with
// special = -1. Thread-safe.
using PreTokenFn = std::function<void(std::size_t begin, std::size_t end, int special)>;
void forEachGpt2PreToken(std::string_view text, const std::vector<std::string>& specials,
                         const PreTokenFn& fn);

}  // namespace mwb
