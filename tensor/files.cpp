// Whole-file reading (see files.h).
#include "tensor/files.h"

#include <fstream>
#include <iterator>

#include "tensor/errors.h"

namespace mwb {

std::optional<std::string> tryReadFile(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return std::nullopt;
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string readFile(const std::filesystem::path& file, std::string_view context) {
    std::optional<std::string> text = tryReadFile(file);
    if (!text) {
        std::string message(context);
        if (!message.empty()) message += ": ";
        throw InvalidInput(message + "cannot read " + file.string());
    }
    return std::move(*text);
}

}  // namespace mwb
