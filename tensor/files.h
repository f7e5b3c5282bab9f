// Reading a whole file into memory.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace mwb {

// The whole content of `file`, byte for byte; std::nullopt when it cannot be opened
// (for callers that report that in their own error class, e.g. ModelFormatError).
std::optional<std::string> tryReadFile(const std::filesystem::path& file);

// The same; throws InvalidInput "cannot read FILE" when the file cannot be opened,
// with `context` and ": " before it when given ("there is no checkpoint to resume
// from: cannot read FILE").
std::string readFile(const std::filesystem::path& file, std::string_view context = {});

}  // namespace mwb
