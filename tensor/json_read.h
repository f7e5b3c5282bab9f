// Typed reading of JSON values: the type check and the words for a value of the wrong
// type, shared by the readers of config.json (io/hf_config.cpp) and train.json
// (training/train_config.cpp). Each reader keeps its own policy for missing keys and
// its own error class; the sentence is "<key> is not <jsonTypeName<T>()>" there and
// "'<key>' must be <jsonTypeName<T>()>" here.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace mwb {

// `v` as a T when it has T's JSON type, std::nullopt otherwise:
//   int          an integer within int's range
//   int64_t      an integer (as nlohmann's get, an unsigned one above INT64_MAX wraps)
//   uint64_t     a non-negative integer
//   double       any number
//   bool         true or false (not a number)
//   std::string  a string
template <typename T>
std::optional<T> jsonAs(const nlohmann::json& v) {
    using Json = nlohmann::json;
    bool ok;
    if constexpr (std::is_same_v<T, int>)
        ok = v.is_number_integer() && !(v > Json(std::numeric_limits<int>::max())) &&
             !(v < Json(std::numeric_limits<int>::min()));
    else if constexpr (std::is_same_v<T, int64_t>)
        ok = v.is_number_integer();
    else if constexpr (std::is_same_v<T, uint64_t>)
        ok = v.is_number_unsigned();
    else if constexpr (std::is_same_v<T, double>)
        ok = v.is_number();
    else if constexpr (std::is_same_v<T, bool>)
        ok = v.is_boolean();
    else if constexpr (std::is_same_v<T, std::string>)
        ok = v.is_string();
    else
        static_assert(!sizeof(T), "jsonAs: unsupported type");
    if (!ok) return std::nullopt;
    return v.get<T>();
}

// What a value must be for jsonAs<T>, for messages: "an integer", "a non-negative
// integer", "a number", "true or false", "a string".
template <typename T>
constexpr const char* jsonTypeName() {
    if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>)
        return "an integer";
    else if constexpr (std::is_same_v<T, uint64_t>)
        return "a non-negative integer";
    else if constexpr (std::is_same_v<T, double>)
        return "a number";
    else if constexpr (std::is_same_v<T, bool>)
        return "true or false";
    else if constexpr (std::is_same_v<T, std::string>)
        return "a string";
    else
        static_assert(!sizeof(T), "jsonTypeName: unsupported type");
}

}  // namespace mwb
