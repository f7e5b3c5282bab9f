// config.json of a Hugging Face model folder (GPT-2; Llama, Mistral, TinyLlama) <->
// ModelConfig.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/config.h"
#include "io/safetensors.h"

namespace mwb {

struct HfConfig {
    ModelConfig config;
    int bosId = -1;  // bos_token_id / eos_token_id, -1 when absent
    int eosId = -1;
    // _name_or_path when it is a plain name (not a path or hub id with "/"); else empty.
    std::string name;
    std::vector<std::string> warnings;  // features read but not reproduced exactly
};

// Parses a JSON file. Throws ModelFormatError naming the file when it cannot be read or is
// not JSON.
nlohmann::json readJsonFile(const std::filesystem::path& file);

// Throws ModelFormatError naming the file and the key for a missing or mistyped key, an
// unsupported model_type or activation, and features the forward pass does not implement
// (rope_scaling, attention or MLP biases in Llama, head_dim != hidden_size / heads).
HfConfig readHfConfig(const std::filesystem::path& configJson);

// The config.json transformers would write for `c` (model_type gpt2 or llama).
nlohmann::ordered_json hfConfigJson(const ModelConfig& c, int bosId, int eosId, TensorDtype dtype);

}  // namespace mwb
