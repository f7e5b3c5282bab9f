// Test-only reader of GGUF metadata (the key/value section of a llama.cpp model file),
// enough to build TokenizerSpecs from llama.cpp's ggml-vocab-*.gguf reference files.
// Tensors are not read. Throws std::runtime_error on a malformed or truncated file.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mwb::test {

// One metadata value: integers (any width, and bools) widen to int64, floats to double;
// arrays of strings or numbers become vectors.
using GgufValue = std::variant<std::int64_t, double, std::string, std::vector<std::string>,
                               std::vector<double>>;

class GgufMetadata {
public:
    explicit GgufMetadata(const std::filesystem::path& file) {
        std::ifstream in(file, std::ios::binary);
        if (!in) throw std::runtime_error("cannot open " + file.string());
        m_data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        if (take(4) != "GGUF") throw std::runtime_error(file.string() + " is not a GGUF file");
        const auto version = read<std::uint32_t>();
        if (version < 2) throw std::runtime_error("GGUF version 1 is not supported");
        read<std::uint64_t>();  // tensor count
        const auto nKeys = read<std::uint64_t>();
        for (std::uint64_t i = 0; i < nKeys; ++i) {
            std::string key = readString();
            const auto type = read<std::uint32_t>();
            m_values[key] = readValue(type);
        }
    }

    bool has(const std::string& key) const { return m_values.count(key) != 0; }
    const GgufValue& at(const std::string& key) const {
        auto it = m_values.find(key);
        if (it == m_values.end()) throw std::runtime_error("GGUF key missing: " + key);
        return it->second;
    }
    std::int64_t integer(const std::string& key) const { return std::get<std::int64_t>(at(key)); }
    const std::string& string(const std::string& key) const { return std::get<std::string>(at(key)); }
    const std::vector<std::string>& strings(const std::string& key) const {
        return std::get<std::vector<std::string>>(at(key));
    }
    const std::vector<double>& numbers(const std::string& key) const {
        return std::get<std::vector<double>>(at(key));
    }

private:
    enum Type : std::uint32_t {
        U8, I8, U16, I16, U32, I32, F32, Bool, String, Array, U64, I64, F64
    };

    std::string take(std::size_t n) {
        if (n > m_data.size() - m_pos) throw std::runtime_error("GGUF file is truncated");
        std::string s = m_data.substr(m_pos, n);
        m_pos += n;
        return s;
    }
    template <class T>
    T read() {
        const std::string bytes = take(sizeof(T));
        T v;
        std::memcpy(&v, bytes.data(), sizeof(T));  // GGUF is little-endian, like the test hosts
        return v;
    }
    std::string readString() { return take(read<std::uint64_t>()); }

    // A scalar of a numeric type, widened.
    std::variant<std::int64_t, double> readNumber(std::uint32_t type) {
        switch (type) {
            case U8: return std::int64_t{read<std::uint8_t>()};
            case I8: return std::int64_t{read<std::int8_t>()};
            case U16: return std::int64_t{read<std::uint16_t>()};
            case I16: return std::int64_t{read<std::int16_t>()};
            case U32: return std::int64_t{read<std::uint32_t>()};
            case I32: return std::int64_t{read<std::int32_t>()};
            case Bool: return std::int64_t{read<std::uint8_t>()};
            case U64: return static_cast<std::int64_t>(read<std::uint64_t>());
            case I64: return read<std::int64_t>();
            case F32: return double{read<float>()};
            case F64: return read<double>();
            default: throw std::runtime_error("GGUF value type " + std::to_string(type) + " unknown");
        }
    }

    GgufValue readValue(std::uint32_t type) {
        if (type == String) return readString();
        if (type == Array) {
            const auto elemType = read<std::uint32_t>();
            const auto n = read<std::uint64_t>();
            if (n > m_data.size()) throw std::runtime_error("GGUF array length is implausible");
            if (elemType == String) {
                std::vector<std::string> v;
                v.reserve(n);
                for (std::uint64_t i = 0; i < n; ++i) v.push_back(readString());
                return v;
            }
            if (elemType == Array) throw std::runtime_error("nested GGUF arrays are not supported");
            std::vector<double> v;
            v.reserve(n);
            for (std::uint64_t i = 0; i < n; ++i) {
                auto x = readNumber(elemType);
                v.push_back(x.index() == 0 ? double(std::get<0>(x)) : std::get<1>(x));
            }
            return v;
        }
        auto x = readNumber(type);
        if (x.index() == 0) return std::get<0>(x);
        return std::get<1>(x);
    }

    std::string m_data;
    std::size_t m_pos = 0;
    std::map<std::string, GgufValue> m_values;
};

// The tokenizer a GGUF vocabulary file describes (llama.cpp's metadata keys).
inline TokenizerSpec tokenizerSpecFromGguf(const std::filesystem::path& file) {
    const GgufMetadata gguf(file);
    TokenizerSpec spec;
    const std::string model = gguf.string("tokenizer.ggml.model");
    spec.kind = model == "llama" ? TokenizerKind::SentencePieceBpe : TokenizerKind::ByteBpe;
    spec.vocab = gguf.strings("tokenizer.ggml.tokens");
    if (gguf.has("tokenizer.ggml.merges")) spec.merges = gguf.strings("tokenizer.ggml.merges");
    if (gguf.has("tokenizer.ggml.scores"))
        for (double s : gguf.numbers("tokenizer.ggml.scores")) spec.scores.push_back(float(s));
    spec.bosId = int(gguf.integer("tokenizer.ggml.bos_token_id"));
    spec.eosId = int(gguf.integer("tokenizer.ggml.eos_token_id"));
    spec.addBos = gguf.has("tokenizer.ggml.add_bos_token") && gguf.integer("tokenizer.ggml.add_bos_token");
    return spec;
}

}  // namespace mwb::test
