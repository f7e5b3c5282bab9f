// The TokenizerSpec of a GGUF vocabulary file (llama.cpp's ggml-vocab-*.gguf reference
// files), read with the library's GGUF reader (io/gguf.h, io/import_gguf.h).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "io/import_gguf.h"
#include "tokenizer/tokenizer.h"

namespace mwb::test {

inline TokenizerSpec tokenizerSpecFromGguf(const std::filesystem::path& file) {
    std::vector<std::string> warnings;
    return readGgufTokenizer(GgufFile(file), warnings);
}

}  // namespace mwb::test
