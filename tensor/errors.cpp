#include "tensor/errors.h"

#include <algorithm>
#include <string>

namespace mwb {

std::string_view utf8Prefix(std::string_view text, size_t maxBytes) {
    if (text.size() <= maxBytes) return text;
    size_t cut = maxBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
    return text.substr(0, cut);
}

std::string quote(std::string_view text) {
    const std::string_view prefix = utf8Prefix(text, 60);
    // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "\"" + std::string.
    std::string out;
    out.reserve(prefix.size() + 32);
    out += '"';
    out.append(prefix);
    if (prefix.size() < text.size()) {
        out += "...\" (";
        out += std::to_string(text.size());
        out += " bytes)";
    } else {
        out += '"';
    }
    return out;
}

void checkFailed(const char* expr, const char* file, int line) {
    // An internal invariant is broken: a bug, not bad input. Still an exception so
    // that the GUI survives and can report it.
    throw std::logic_error(std::string("internal error: ") + expr + " failed at " + file + ":" +
                           std::to_string(line));
}

}  // namespace mwb
